"""The amoCRM v4 REST surface, one module per family: ``account`` (account, users), ``pipelines``,
``custom_fields``, ``tags``, ``entities`` (leads, contacts, companies), ``leads_complex``
(``/leads/complex``), ``notes``, ``links``, ``catalogs`` (and their elements) and ``webhooks``, over the
helpers in ``common``; ``routes`` maps URLs to them. Handlers take the sandbox and the request and return a
``Response``.

The surface follows https://www.amocrm.ru/developers/content/crm_platform/api-reference.
"""
