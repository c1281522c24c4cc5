"""Pipelines and their stages, read only: https://www.amocrm.ru/developers/content/crm_platform/leads_pipelines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..http import Request, Response, json_response, no_content
from .common import doc_or_404, links

if TYPE_CHECKING:
    from ..app import Sandbox


def _render_status(req: Request, status: dict[str, Any]) -> dict[str, Any]:
    path = f"/api/v4/leads/pipelines/{status['pipeline_id']}/statuses/{status['id']}"
    return dict(status, _links=links(req, path))


def _render_pipeline(req: Request, pipe: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in pipe.items() if k != "statuses"}
    out["_links"] = links(req, f"/api/v4/leads/pipelines/{pipe['id']}")
    out["_embedded"] = {"statuses": [_render_status(req, s) for s in pipe["statuses"]]}
    return out


def _pipeline_or_404(sb: Sandbox, pid: str) -> dict[str, Any]:
    return doc_or_404(sb, "pipeline", pid, "Pipeline not found")


def pipelines(sb: Sandbox, req: Request) -> Response:
    """GET /api/v4/leads/pipelines"""
    items = [_render_pipeline(req, p) for p in sb.store.all("pipeline")]
    if not items:
        return no_content()
    body = {"_total_items": len(items), "_links": links(req, req.path), "_embedded": {"pipelines": items}}
    return json_response(200, body)


def pipeline(sb: Sandbox, req: Request, pid: str) -> Response:
    """GET /api/v4/leads/pipelines/{id}"""
    return json_response(200, _render_pipeline(req, _pipeline_or_404(sb, pid)))


def statuses(sb: Sandbox, req: Request, pid: str) -> Response:
    """GET /api/v4/leads/pipelines/{id}/statuses"""
    pipe = _pipeline_or_404(sb, pid)
    items = [_render_status(req, s) for s in pipe["statuses"]]
    body = {"_total_items": len(items), "_links": links(req, req.path), "_embedded": {"statuses": items}}
    return json_response(200, body)


def status(sb: Sandbox, req: Request, pid: str, sid: str) -> Response:
    """GET /api/v4/leads/pipelines/{id}/statuses/{status_id}"""
    pipe = _pipeline_or_404(sb, pid)
    for s in pipe["statuses"]:
        if str(s["id"]) == sid:
            return json_response(200, _render_status(req, s))
    return no_content()
