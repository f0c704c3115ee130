"""Pipeline routes beyond create/status: redeploy an existing site."""

from __future__ import annotations

from typing import Literal

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict

from control_plane import redeploy
from control_plane.auth import Principal
from control_plane.web import Access, endpoint

bp = Blueprint(__name__)


class RedeployRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_step: Literal["generate_code", "deploy"] = "deploy"


class RedeployResponse(BaseModel):
    execution_id: str
    source_execution_id: str
    from_step: str


@endpoint(
    bp,
    "/api/redeploy/{execution_id}",
    "POST",
    access=Access.USER,
    summary="Redeploy a site (same bucket, distribution and URL) from deploy or generate_code",
    request=RedeployRequest,
    response=RedeployResponse,
    status=202,
    body_required=False,
)
def redeploy_route(
    principal: Principal, body: RedeployRequest, execution_id: str
) -> RedeployResponse:
    new_id = redeploy.start_redeploy(execution_id, principal, body.from_step)
    return RedeployResponse(
        execution_id=new_id, source_execution_id=execution_id, from_step=body.from_step
    )
