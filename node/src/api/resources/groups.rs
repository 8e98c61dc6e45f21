//! `VirtualServerGroupService`: groups and their members.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::GroupId;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::{find, matches, named};
use crate::api::{Api, page};

#[tonic::async_trait]
impl v1::virtual_server_group_service_server::VirtualServerGroupService for Api {
    async fn create_group(
        &self,
        request: Request<v1::CreateGroupRequest>,
    ) -> Result<Response<v1::CreateGroupResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateGroup)
            .await?;
        self.render(|views, state| {
            Ok(v1::CreateGroupResponse {
                group: find(
                    state.catalog().groups(),
                    GroupId::parse,
                    &receipt.resource_id,
                )
                .map(|group| views.group(group)),
                revision: receipt.revision,
            })
        })
    }

    async fn get_group(
        &self,
        request: Request<v1::GetGroupRequest>,
    ) -> Result<Response<v1::GetGroupResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let group = named(
                state.catalog().groups(),
                GroupId::parse,
                "id",
                GroupId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetGroupResponse {
                group: Some(views.group(group)),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_groups(
        &self,
        request: Request<v1::ListGroupsRequest>,
    ) -> Result<Response<v1::ListGroupsResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let (groups, next_page_token) = page(
                state.catalog().groups().values().filter(|group| {
                    matches(&message.load_balancer_id, group.load_balancer_id.as_str())
                }),
                |group| group.id.as_str(),
                message.page_size,
                &message.page_token,
                |group| views.group(group),
            );
            Ok(v1::ListGroupsResponse {
                groups,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn update_group(
        &self,
        request: Request<v1::UpdateGroupRequest>,
    ) -> Result<Response<v1::UpdateGroupResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::UpdateGroup)
            .await?;
        self.render(|views, state| {
            Ok(v1::UpdateGroupResponse {
                group: find(
                    state.catalog().groups(),
                    GroupId::parse,
                    &receipt.resource_id,
                )
                .map(|group| views.group(group)),
                revision: receipt.revision,
            })
        })
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
        let group_id = request.get_ref().group_id.clone();
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::AddMember)
            .await?;
        self.render(|views, state| {
            let (group, member) = find(state.catalog().groups(), GroupId::parse, &group_id)
                .and_then(|group| views.group_and_member(group, &receipt.resource_id))
                .unzip();
            Ok(v1::AddMemberResponse {
                group,
                member,
                revision: receipt.revision,
            })
        })
    }

    async fn update_member(
        &self,
        request: Request<v1::UpdateMemberRequest>,
    ) -> Result<Response<v1::UpdateMemberResponse>, Status> {
        let group_id = request.get_ref().group_id.clone();
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::UpdateMember)
            .await?;
        self.render(|views, state| {
            let (group, member) = find(state.catalog().groups(), GroupId::parse, &group_id)
                .and_then(|group| views.group_and_member(group, &receipt.resource_id))
                .unzip();
            Ok(v1::UpdateMemberResponse {
                group,
                member,
                revision: receipt.revision,
            })
        })
    }

    async fn remove_member(
        &self,
        request: Request<v1::RemoveMemberRequest>,
    ) -> Result<Response<v1::RemoveMemberResponse>, Status> {
        let group_id = request.get_ref().group_id.clone();
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::RemoveMember)
            .await?;
        self.render(|views, state| {
            Ok(v1::RemoveMemberResponse {
                group: find(state.catalog().groups(), GroupId::parse, &group_id)
                    .map(|group| views.group(group)),
                revision: receipt.revision,
            })
        })
    }

    async fn replace_members(
        &self,
        request: Request<v1::ReplaceMembersRequest>,
    ) -> Result<Response<v1::ReplaceMembersResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::ReplaceMembers)
            .await?;
        self.render(|views, state| {
            Ok(v1::ReplaceMembersResponse {
                group: find(
                    state.catalog().groups(),
                    GroupId::parse,
                    &receipt.resource_id,
                )
                .map(|group| views.group(group)),
                revision: receipt.revision,
            })
        })
    }
}
