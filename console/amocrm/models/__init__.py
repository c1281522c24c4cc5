"""Models of the AmoCRM integration, one module per area (tables keep their ``amocrm_*`` names)."""

from console.amocrm.models.account import (
    AmoConnection,
    ConfigChange,
    Pipeline,
    PipelineStatus,
    RateLimitWindow,
    StageMapping,
    new_webhook_secret,
)
from console.amocrm.models.health import Incident, WebhookHealth
from console.amocrm.models.inbound import WebhookCounter, WebhookInbox
from console.amocrm.models.leases import Lease
from console.amocrm.models.loss import LossReason, OrderLossReason
from console.amocrm.models.outbound import (
    CatalogElementLink,
    CompanyAmoLink,
    CustomerAmoLink,
    DetachedLead,
    OrderSync,
    SyncExchange,
    SyncLog,
    UnconfirmedCreate,
)
from console.amocrm.models.parties import Party, PartyConflict, PartyField
from console.amocrm.models.tasks import OrderTask
from console.amocrm.models.users import AmoUser

__all__ = [
    "AmoConnection",
    "AmoUser",
    "CatalogElementLink",
    "CompanyAmoLink",
    "ConfigChange",
    "CustomerAmoLink",
    "DetachedLead",
    "Incident",
    "Lease",
    "LossReason",
    "OrderLossReason",
    "OrderSync",
    "OrderTask",
    "Party",
    "PartyConflict",
    "PartyField",
    "Pipeline",
    "PipelineStatus",
    "RateLimitWindow",
    "StageMapping",
    "SyncExchange",
    "SyncLog",
    "UnconfirmedCreate",
    "WebhookCounter",
    "WebhookHealth",
    "WebhookInbox",
    "new_webhook_secret",
]
