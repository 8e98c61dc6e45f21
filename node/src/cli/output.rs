//! How the CLI prints: aligned tables for people ([`crate::resources::text`]),
//! proto3 JSON for programs.

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// The output format the caller chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable tables.
    Table,
    /// The API's messages in proto3's JSON mapping.
    Json,
}

/// A message of the contract as proto3 JSON; `name` is its full name
/// (`fulcrum.v1.LoadBalancer`).
pub fn json<M: prost::Message>(message: &M, name: &str) -> serde_json::Value {
    let rendered = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET)
        .ok()
        .and_then(|pool| pool.get_message_by_name(name))
        .and_then(|descriptor| {
            DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).ok()
        })
        .and_then(|dynamic| {
            let options = SerializeOptions::new()
                .stringify_64_bit_integers(false)
                .skip_default_fields(false);
            dynamic
                .serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
        });
    rendered
        .unwrap_or_else(|| serde_json::json!({ "error": format!("{name} is not in the contract") }))
}

/// A list of messages of the contract as a JSON array.
pub fn json_list<M: prost::Message>(messages: &[M], name: &str) -> serde_json::Value {
    serde_json::Value::Array(messages.iter().map(|message| json(message, name)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fulcrum_api::v1;

    #[test]
    fn messages_render_as_proto3_json() {
        let lb = v1::LoadBalancer {
            id: "lb-1".into(),
            name: "web".into(),
            provisioning_status: v1::ProvisioningStatus::Active as i32,
            ..Default::default()
        };
        let value = json(&lb, "fulcrum.v1.LoadBalancer");
        assert_eq!(value["id"], "lb-1");
        assert_eq!(value["name"], "web");
        assert_eq!(value["provisioningStatus"], "PROVISIONING_STATUS_ACTIVE");
    }
}
