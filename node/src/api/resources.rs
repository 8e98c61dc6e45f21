//! The resource services: networks, EIPs, Load Balancers, listeners, virtual
//! server groups and certificates. Each call is a write (a command for the
//! log) or a read (of this node's catalog, after the read barrier).

use std::collections::BTreeMap;

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{
    CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId, NetworkId, Rejection,
    SubnetId,
};
use fulcrum_raft_store::domain::{certificate, sealed};
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::{Api, page, refused};

/// The resource `raw` names in `map`, if `raw` is a well-formed id of it.
fn find<'a, Id: Ord, V>(
    map: &'a BTreeMap<Id, V>,
    parse: fn(&str, &str) -> Result<Id, Rejection>,
    raw: &str,
) -> Option<&'a V> {
    parse("id", raw).ok().and_then(|id| map.get(&id))
}

/// The resource the request's `field` names, or INVALID_ARGUMENT for a
/// malformed id, or NOT_FOUND.
fn named<'a, Id: Ord + std::fmt::Display, V>(
    map: &'a BTreeMap<Id, V>,
    parse: fn(&str, &str) -> Result<Id, Rejection>,
    field: &str,
    noun: &str,
    raw: &str,
) -> Result<&'a V, Status> {
    let id = parse(field, raw).map_err(refused)?;
    map.get(&id)
        .ok_or_else(|| refused(Rejection::not_found(field, noun, &id)))
}

/// True when `filter` is empty or equals `value`.
fn matches(filter: &str, value: &str) -> bool {
    filter.is_empty() || filter == value
}

#[tonic::async_trait]
impl v1::network_service_server::NetworkService for Api {
    async fn create_network(
        &self,
        request: Request<v1::CreateNetworkRequest>,
    ) -> Result<Response<v1::CreateNetworkResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateNetwork)
            .await?;
        self.render(|_, state| {
            Ok(v1::CreateNetworkResponse {
                network: find(
                    state.catalog().networks(),
                    NetworkId::parse,
                    &receipt.resource_id,
                )
                .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_network(
        &self,
        request: Request<v1::GetNetworkRequest>,
    ) -> Result<Response<v1::GetNetworkResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let network = named(
                state.catalog().networks(),
                NetworkId::parse,
                "id",
                NetworkId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetNetworkResponse {
                network: Some(network.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_networks(
        &self,
        request: Request<v1::ListNetworksRequest>,
    ) -> Result<Response<v1::ListNetworksResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (networks, next_page_token) = page(
                state.catalog().networks().values(),
                |network| network.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListNetworksResponse {
                networks,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn delete_network(
        &self,
        request: Request<v1::DeleteNetworkRequest>,
    ) -> Result<Response<v1::DeleteNetworkResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteNetwork)
            .await?;
        Ok(Response::new(v1::DeleteNetworkResponse {
            revision: receipt.revision,
        }))
    }

    async fn create_subnet(
        &self,
        request: Request<v1::CreateSubnetRequest>,
    ) -> Result<Response<v1::CreateSubnetResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateSubnet)
            .await?;
        self.render(|_, state| {
            Ok(v1::CreateSubnetResponse {
                subnet: find(
                    state.catalog().subnets(),
                    SubnetId::parse,
                    &receipt.resource_id,
                )
                .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_subnet(
        &self,
        request: Request<v1::GetSubnetRequest>,
    ) -> Result<Response<v1::GetSubnetResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let subnet = named(
                state.catalog().subnets(),
                SubnetId::parse,
                "id",
                SubnetId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetSubnetResponse {
                subnet: Some(subnet.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_subnets(
        &self,
        request: Request<v1::ListSubnetsRequest>,
    ) -> Result<Response<v1::ListSubnetsResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (subnets, next_page_token) = page(
                state
                    .catalog()
                    .subnets()
                    .values()
                    .filter(|subnet| matches(&message.network_id, subnet.network_id.as_str())),
                |subnet| subnet.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListSubnetsResponse {
                subnets,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn delete_subnet(
        &self,
        request: Request<v1::DeleteSubnetRequest>,
    ) -> Result<Response<v1::DeleteSubnetResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteSubnet)
            .await?;
        Ok(Response::new(v1::DeleteSubnetResponse {
            revision: receipt.revision,
        }))
    }

    async fn create_instance(
        &self,
        request: Request<v1::CreateInstanceRequest>,
    ) -> Result<Response<v1::CreateInstanceResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateInstance)
            .await?;
        self.render(|_, state| {
            Ok(v1::CreateInstanceResponse {
                instance: find(
                    state.catalog().instances(),
                    InstanceId::parse,
                    &receipt.resource_id,
                )
                .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_instance(
        &self,
        request: Request<v1::GetInstanceRequest>,
    ) -> Result<Response<v1::GetInstanceResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let instance = named(
                state.catalog().instances(),
                InstanceId::parse,
                "id",
                InstanceId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetInstanceResponse {
                instance: Some(instance.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_instances(
        &self,
        request: Request<v1::ListInstancesRequest>,
    ) -> Result<Response<v1::ListInstancesResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (instances, next_page_token) =
                page(
                    state.catalog().instances().values().filter(|instance| {
                        matches(&message.subnet_id, instance.subnet_id.as_str())
                    }),
                    |instance| instance.id.as_str(),
                    message.page_size,
                    &message.page_token,
                    Into::into,
                );
            Ok(v1::ListInstancesResponse {
                instances,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn delete_instance(
        &self,
        request: Request<v1::DeleteInstanceRequest>,
    ) -> Result<Response<v1::DeleteInstanceResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteInstance)
            .await?;
        Ok(Response::new(v1::DeleteInstanceResponse {
            revision: receipt.revision,
        }))
    }
}

#[tonic::async_trait]
impl v1::eip_service_server::EipService for Api {
    async fn allocate_eip(
        &self,
        request: Request<v1::AllocateEipRequest>,
    ) -> Result<Response<v1::AllocateEipResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::AllocateEip)
            .await?;
        self.render(|_, state| {
            Ok(v1::AllocateEipResponse {
                eip: find(state.catalog().eips(), EipId::parse, &receipt.resource_id)
                    .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_eip(
        &self,
        request: Request<v1::GetEipRequest>,
    ) -> Result<Response<v1::GetEipResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let eip = named(
                state.catalog().eips(),
                EipId::parse,
                "id",
                EipId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetEipResponse {
                eip: Some(eip.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_eips(
        &self,
        request: Request<v1::ListEipsRequest>,
    ) -> Result<Response<v1::ListEipsResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (eips, next_page_token) = page(
                state.catalog().eips().values(),
                |eip| eip.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListEipsResponse {
                eips,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn release_eip(
        &self,
        request: Request<v1::ReleaseEipRequest>,
    ) -> Result<Response<v1::ReleaseEipResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::ReleaseEip)
            .await?;
        Ok(Response::new(v1::ReleaseEipResponse {
            revision: receipt.revision,
        }))
    }
}

#[tonic::async_trait]
impl v1::load_balancer_service_server::LoadBalancerService for Api {
    async fn create_load_balancer(
        &self,
        request: Request<v1::CreateLoadBalancerRequest>,
    ) -> Result<Response<v1::CreateLoadBalancerResponse>, Status> {
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                Kind::CreateLoadBalancer,
            )
            .await?;
        self.render(|views, state| {
            Ok(v1::CreateLoadBalancerResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &receipt.resource_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
    }

    async fn get_load_balancer(
        &self,
        request: Request<v1::GetLoadBalancerRequest>,
    ) -> Result<Response<v1::GetLoadBalancerResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let lb = named(
                state.catalog().load_balancers(),
                LoadBalancerId::parse,
                "id",
                LoadBalancerId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetLoadBalancerResponse {
                load_balancer: Some(views.load_balancer(lb)),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_load_balancers(
        &self,
        request: Request<v1::ListLoadBalancersRequest>,
    ) -> Result<Response<v1::ListLoadBalancersResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let (load_balancers, next_page_token) = page(
                state
                    .catalog()
                    .load_balancers()
                    .values()
                    .filter(|lb| matches(&message.name, &lb.meta.name)),
                |lb| lb.id.as_str(),
                message.page_size,
                &message.page_token,
                |lb| views.load_balancer(lb),
            );
            Ok(v1::ListLoadBalancersResponse {
                load_balancers,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn update_load_balancer(
        &self,
        request: Request<v1::UpdateLoadBalancerRequest>,
    ) -> Result<Response<v1::UpdateLoadBalancerResponse>, Status> {
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                Kind::UpdateLoadBalancer,
            )
            .await?;
        self.render(|views, state| {
            Ok(v1::UpdateLoadBalancerResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &receipt.resource_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
    }

    async fn delete_load_balancer(
        &self,
        request: Request<v1::DeleteLoadBalancerRequest>,
    ) -> Result<Response<v1::DeleteLoadBalancerResponse>, Status> {
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                Kind::DeleteLoadBalancer,
            )
            .await?;
        Ok(Response::new(v1::DeleteLoadBalancerResponse {
            revision: receipt.revision,
        }))
    }

    async fn associate_eip(
        &self,
        request: Request<v1::AssociateEipRequest>,
    ) -> Result<Response<v1::AssociateEipResponse>, Status> {
        let load_balancer_id = request.get_ref().load_balancer_id.clone();
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::AssociateEip)
            .await?;
        self.render(|views, state| {
            Ok(v1::AssociateEipResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &load_balancer_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
    }

    async fn disassociate_eip(
        &self,
        request: Request<v1::DisassociateEipRequest>,
    ) -> Result<Response<v1::DisassociateEipResponse>, Status> {
        let load_balancer_id = request.get_ref().load_balancer_id.clone();
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DisassociateEip)
            .await?;
        self.render(|views, state| {
            Ok(v1::DisassociateEipResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &load_balancer_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
    }

    async fn get_status_tree(
        &self,
        request: Request<v1::GetStatusTreeRequest>,
    ) -> Result<Response<v1::GetStatusTreeResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let lb = named(
                state.catalog().load_balancers(),
                LoadBalancerId::parse,
                "load_balancer_id",
                LoadBalancerId::NOUN,
                &message.load_balancer_id,
            )?;
            Ok(v1::GetStatusTreeResponse {
                load_balancer: Some(views.status_tree(lb)),
                revision: state.revision(),
            })
        })
        .await
    }
}

#[tonic::async_trait]
impl v1::listener_service_server::ListenerService for Api {
    async fn create_listener(
        &self,
        request: Request<v1::CreateListenerRequest>,
    ) -> Result<Response<v1::CreateListenerResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateListener)
            .await?;
        self.render(|views, state| {
            Ok(v1::CreateListenerResponse {
                listener: find(
                    state.catalog().listeners(),
                    ListenerId::parse,
                    &receipt.resource_id,
                )
                .map(|listener| views.listener(listener)),
                revision: receipt.revision,
            })
        })
    }

    async fn get_listener(
        &self,
        request: Request<v1::GetListenerRequest>,
    ) -> Result<Response<v1::GetListenerResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let listener = named(
                state.catalog().listeners(),
                ListenerId::parse,
                "id",
                ListenerId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetListenerResponse {
                listener: Some(views.listener(listener)),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_listeners(
        &self,
        request: Request<v1::ListListenersRequest>,
    ) -> Result<Response<v1::ListListenersResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let (listeners, next_page_token) = page(
                state.catalog().listeners().values().filter(|listener| {
                    matches(
                        &message.load_balancer_id,
                        listener.load_balancer_id.as_str(),
                    )
                }),
                |listener| listener.id.as_str(),
                message.page_size,
                &message.page_token,
                |listener| views.listener(listener),
            );
            Ok(v1::ListListenersResponse {
                listeners,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn update_listener(
        &self,
        request: Request<v1::UpdateListenerRequest>,
    ) -> Result<Response<v1::UpdateListenerResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::UpdateListener)
            .await?;
        self.render(|views, state| {
            Ok(v1::UpdateListenerResponse {
                listener: find(
                    state.catalog().listeners(),
                    ListenerId::parse,
                    &receipt.resource_id,
                )
                .map(|listener| views.listener(listener)),
                revision: receipt.revision,
            })
        })
    }

    async fn delete_listener(
        &self,
        request: Request<v1::DeleteListenerRequest>,
    ) -> Result<Response<v1::DeleteListenerResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteListener)
            .await?;
        Ok(Response::new(v1::DeleteListenerResponse {
            revision: receipt.revision,
        }))
    }
}

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

#[tonic::async_trait]
impl v1::certificate_service_server::CertificateService for Api {
    async fn upload_certificate(
        &self,
        mut request: Request<v1::UploadCertificateRequest>,
    ) -> Result<Response<v1::UploadCertificateResponse>, Status> {
        // The key is checked in the clear, then sealed: only the sealed
        // text enters the log (and so the state, snapshots and peers).
        let upload = request.get_mut();
        certificate::check_clear_key(&upload.private_key).map_err(refused)?;
        key_matches_leaf(&upload.certificate_chain, &upload.private_key)?;
        upload.private_key = self
            .data_keys
            .current()
            .seal(
                &upload.private_key,
                &sealed::certificate_key_aad(&upload.certificate_chain),
            )
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::UploadCertificate)
            .await?;
        self.render(|_, state| {
            Ok(v1::UploadCertificateResponse {
                certificate: find(
                    state.catalog().certificates(),
                    CertificateId::parse,
                    &receipt.resource_id,
                )
                .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_certificate(
        &self,
        request: Request<v1::GetCertificateRequest>,
    ) -> Result<Response<v1::GetCertificateResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let certificate = named(
                state.catalog().certificates(),
                CertificateId::parse,
                "id",
                CertificateId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetCertificateResponse {
                certificate: Some(certificate.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_certificates(
        &self,
        request: Request<v1::ListCertificatesRequest>,
    ) -> Result<Response<v1::ListCertificatesResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (certificates, next_page_token) = page(
                state.catalog().certificates().values(),
                |certificate| certificate.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListCertificatesResponse {
                certificates,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn delete_certificate(
        &self,
        request: Request<v1::DeleteCertificateRequest>,
    ) -> Result<Response<v1::DeleteCertificateResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteCertificate)
            .await?;
        Ok(Response::new(v1::DeleteCertificateResponse {
            revision: receipt.revision,
        }))
    }
}

/// Refuses a key that is not the first certificate's: after sealing, only a
/// data plane could tell, by failing to serve the listener.
fn key_matches_leaf(chain_pem: &str, key_pem: &str) -> Result<(), Status> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let Ok(chain) =
        CertificateDer::pem_slice_iter(chain_pem.as_bytes()).collect::<Result<Vec<_>, _>>()
    else {
        // The domain names what is wrong with the chain.
        return Ok(());
    };
    if chain.is_empty() {
        return Ok(());
    }
    let Ok(key) = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) else {
        return Err(Status::invalid_argument(
            "private_key: is not a PEM private key (PKCS#8, PKCS#1 or SEC1)",
        ));
    };
    rustls::sign::CertifiedKey::from_der(chain, key, &rustls::crypto::aws_lc_rs::default_provider())
        .map(drop)
        .map_err(|error| {
            Status::invalid_argument(format!(
                "private_key: is not the key of the first certificate of certificate_chain ({error})"
            ))
        })
}
