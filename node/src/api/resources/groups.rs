//! `VirtualServerGroupService`: virtual server groups and their members.

use fulcrum_api::v1;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::stored_one;
use crate::api::Api;

#[tonic::async_trait]
impl v1::virtual_server_group_service_server::VirtualServerGroupService for Api {
    async fn create_group(
        &self,
        request: Request<v1::CreateGroupRequest>,
    ) -> Result<Response<v1::CreateGroupResponse>, Status> {
        let (group, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::CreateGroup)
            .await?;
        Ok(Response::new(v1::CreateGroupResponse { group, revision }))
    }

    async fn get_group(
        &self,
        request: Request<v1::GetGroupRequest>,
    ) -> Result<Response<v1::GetGroupResponse>, Status> {
        let (group, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetGroupResponse {
            group: Some(group),
            revision,
        }))
    }

    async fn list_groups(
        &self,
        request: Request<v1::ListGroupsRequest>,
    ) -> Result<Response<v1::ListGroupsResponse>, Status> {
        let (groups, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListGroupsResponse {
            groups,
            next_page_token,
            revision,
        }))
    }

    async fn update_group(
        &self,
        request: Request<v1::UpdateGroupRequest>,
    ) -> Result<Response<v1::UpdateGroupResponse>, Status> {
        let (group, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::UpdateGroup)
            .await?;
        Ok(Response::new(v1::UpdateGroupResponse { group, revision }))
    }

    async fn delete_group(
        &self,
        request: Request<v1::DeleteGroupRequest>,
    ) -> Result<Response<v1::DeleteGroupResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteGroup)
            .await?;
        Ok(Response::new(v1::DeleteGroupResponse {
            revision: receipt.revision,
        }))
    }

    async fn add_member(
        &self,
        request: Request<v1::AddMemberRequest>,
    ) -> Result<Response<v1::AddMemberResponse>, Status> {
        let (group, member, revision) = self
            .write_member(
                request,
                |r| r.group_id.clone(),
                |r| r.client_token.clone(),
                Kind::AddMember,
            )
            .await?;
        Ok(Response::new(v1::AddMemberResponse {
            group,
            member,
            revision,
        }))
    }

    async fn update_member(
        &self,
        request: Request<v1::UpdateMemberRequest>,
    ) -> Result<Response<v1::UpdateMemberResponse>, Status> {
        let (group, member, revision) = self
            .write_member(
                request,
                |r| r.group_id.clone(),
                |r| r.client_token.clone(),
                Kind::UpdateMember,
            )
            .await?;
        Ok(Response::new(v1::UpdateMemberResponse {
            group,
            member,
            revision,
        }))
    }

    async fn remove_member(
        &self,
        request: Request<v1::RemoveMemberRequest>,
    ) -> Result<Response<v1::RemoveMemberResponse>, Status> {
        let id = request.get_ref().group_id.clone();
        let (group, revision) = self
            .write_and_show_named(id, request, |r| r.client_token.clone(), Kind::RemoveMember)
            .await?;
        Ok(Response::new(v1::RemoveMemberResponse { group, revision }))
    }

    async fn replace_members(
        &self,
        request: Request<v1::ReplaceMembersRequest>,
    ) -> Result<Response<v1::ReplaceMembersResponse>, Status> {
        let (group, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::ReplaceMembers)
            .await?;
        Ok(Response::new(v1::ReplaceMembersResponse {
            group,
            revision,
        }))
    }
}

impl Api {
    /// Commits a write to one member of the group `group_of` names and
    /// answers the group and the member as this node shows them now, with
    /// the write's revision.
    async fn write_member<Req>(
        &self,
        request: Request<Req>,
        group_of: impl FnOnce(&Req) -> String,
        client_token: impl FnOnce(&Req) -> String,
        kind: impl FnOnce(Req) -> Kind,
    ) -> Result<(Option<v1::VirtualServerGroup>, Option<v1::Member>, u64), Status> {
        let group_id = group_of(request.get_ref());
        let receipt = self.write(request, client_token, kind).await?;
        let (group, member) = self
            .render(|views, state| {
                Ok(
                    stored_one::<v1::VirtualServerGroup>(state.catalog(), &group_id)
                        .and_then(|group| views.group_and_member(group, &receipt.resource_id))
                        .unzip(),
                )
            })?
            .into_inner();
        Ok((group, member, receipt.revision))
    }
}
