//! The typed client: one channel to a Fulcrum node, and a client per service
//! on it. Any node answers: writes sent to a follower are forwarded to the
//! leader, so callers never need to find the leader themselves.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::v1;

/// The largest message the client sends or accepts (a page of a listing).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// A connection to one node, shared by every service client made from it.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {address}: {source}")]
pub struct ConnectError {
    address: String,
    #[source]
    source: tonic::transport::Error,
}

macro_rules! service_clients {
    ($($method:ident => $client:ty,)*) => {
        impl Client {
            $(
                #[doc = concat!("A `", stringify!($client), "` on this connection.")]
                pub fn $method(&self) -> $client {
                    <$client>::new(self.channel.clone())
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                        .max_encoding_message_size(MAX_MESSAGE_BYTES)
                }
            )*
        }
    };
}

service_clients! {
    networks => v1::network_service_client::NetworkServiceClient<Channel>,
    eips => v1::eip_service_client::EipServiceClient<Channel>,
    load_balancers => v1::load_balancer_service_client::LoadBalancerServiceClient<Channel>,
    listeners => v1::listener_service_client::ListenerServiceClient<Channel>,
    groups => v1::virtual_server_group_service_client::VirtualServerGroupServiceClient<Channel>,
    certificates => v1::certificate_service_client::CertificateServiceClient<Channel>,
    access_tokens => v1::access_token_service_client::AccessTokenServiceClient<Channel>,
    events => v1::event_service_client::EventServiceClient<Channel>,
    cluster => v1::cluster_service_client::ClusterServiceClient<Channel>,
}

impl Client {
    /// Connects to the node at `address` (`host:port`, or a URL with `http://`).
    pub async fn connect(address: &str, timeout: Duration) -> Result<Self, ConnectError> {
        let url = if address.contains("://") {
            address.to_owned()
        } else {
            format!("http://{address}")
        };
        let error = |source| ConnectError {
            address: address.to_owned(),
            source,
        };
        let channel = Endpoint::from_shared(url)
            .map_err(error)?
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(error)?;
        Ok(Self { channel })
    }

    /// A client on a channel the caller built.
    pub fn from_channel(channel: Channel) -> Self {
        Self { channel }
    }
}
