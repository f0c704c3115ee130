"""Onboarding: the public request form, and the admin's list of requests and decisions."""

from __future__ import annotations

from chalice.app import Blueprint

from control_plane import links, onboarding
from control_plane.auth import Principal
from control_plane.routes.models import (
    ApprovalResponse,
    OnboardingAccepted,
    OnboardingRequestBody,
    OnboardingRequestView,
    RejectBody,
    RejectionResponse,
    RequestList,
    RequestsQuery,
)
from control_plane.web import Access, endpoint

bp = Blueprint(__name__)

_PENDING = "Thank you! Your request is in; you will get a link to your project once it is approved."
_APPROVED_LINK = "Your request was approved and your site is being built; follow it with your link."
_APPROVED_NO_LINK = (
    "Your request was approved and your site is being built; your link will be sent to you."
)


def _source_ip() -> str:
    identity = (bp.current_request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


@endpoint(
    bp,
    "/api/requests",
    "POST",
    access=Access.PUBLIC,
    summary="Ask for a site (public, rate-limited); builds only once approved",
    request=OnboardingRequestBody,
    response=OnboardingAccepted,
    status=202,
)
def submit_request_route(body: OnboardingRequestBody) -> OnboardingAccepted:
    submitted = onboarding.submit(
        name=body.name,
        email=str(body.email),
        phone=body.phone,
        initial_request=body.initial_request,
        provider=body.host_provider,
        site_type=body.site_type,
        source_ip=_source_ip(),
    )
    approval = submitted.approval
    if approval is None:
        return OnboardingAccepted(
            request_id=submitted.request_id, status="pending", message=_PENDING
        )
    answer = OnboardingAccepted(
        request_id=submitted.request_id,
        status="approved",
        message=_APPROVED_NO_LINK,
        execution_id=approval.execution_id,
        session_id=approval.session_id,
    )
    if submitted.may_share_link:
        token, url = links.client_link(approval.user_id)
        answer = answer.model_copy(
            update={
                "message": _APPROVED_LINK,
                "user_id": approval.user_id,
                "client_token": token,
                "client_url": url,
            }
        )
    return answer


@endpoint(
    bp,
    "/api/admin/requests",
    "GET",
    access=Access.ADMIN,
    summary="Onboarding requests, newest first, by status",
    query=RequestsQuery,
    response=RequestList,
)
def list_requests_route(principal: Principal, query: RequestsQuery) -> RequestList:
    page = onboarding.list_requests(query.status, limit=query.limit, cursor=query.cursor)
    return RequestList(
        requests=[OnboardingRequestView.from_record(item) for item in page.items],
        next_cursor=page.next_cursor,
    )


@endpoint(
    bp,
    "/api/admin/requests/{request_id}/approve",
    "POST",
    access=Access.ADMIN,
    summary="Approve a request: open the user's session and start its build (repeatable)",
    response=ApprovalResponse,
)
def approve_request_route(principal: Principal, request_id: str) -> ApprovalResponse:
    approval = onboarding.approve(request_id)
    token, url = links.client_link(approval.user_id)
    return ApprovalResponse(
        request_id=request_id,
        user_id=approval.user_id,
        session_id=approval.session_id,
        execution_id=approval.execution_id,
        client_url=url,
        client_token=token,
    )


@endpoint(
    bp,
    "/api/admin/requests/{request_id}/reject",
    "POST",
    access=Access.ADMIN,
    summary="Reject a pending request, with an optional reason",
    request=RejectBody,
    response=RejectionResponse,
    body_required=False,
)
def reject_request_route(
    principal: Principal, request_id: str, body: RejectBody
) -> RejectionResponse:
    onboarding.reject(request_id, body.reason)
    return RejectionResponse(request_id=request_id)
