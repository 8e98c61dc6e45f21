//! How the CLI prints: aligned tables for people, proto3 JSON for programs.

use fulcrum_api::v1;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// The output format the caller chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable tables.
    Table,
    /// The API's messages in proto3's JSON mapping.
    Json,
}

/// A table: a header and rows, printed with aligned columns.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(
            cells.len(),
            self.header.len(),
            "a row has one cell per column"
        );
        self.rows.push(cells);
    }

    /// The table as text, one line per row, ending with a newline.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self
            .header
            .iter()
            .map(|name| name.chars().count())
            .collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let mut text = String::new();
            for (n, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                if n + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<width$}  "));
                }
            }
            text.trim_end().to_owned() + "\n"
        };
        let mut text = line(self.header.clone());
        for row in &self.rows {
            text.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        text
    }
}

/// `KEY  value` lines for one resource.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(key, value)| format!("{key:<width$}  {value}\n"))
        .collect()
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

/// A provisioning status without its enum prefix (`ACTIVE`).
pub fn provisioning(value: i32) -> String {
    v1::ProvisioningStatus::try_from(value)
        .map(|status| {
            status
                .as_str_name()
                .trim_start_matches("PROVISIONING_STATUS_")
                .to_owned()
        })
        .unwrap_or_else(|_| value.to_string())
}

/// An operating status without its enum prefix (`ONLINE`).
pub fn operating(value: i32) -> String {
    v1::OperatingStatus::try_from(value)
        .map(|status| {
            status
                .as_str_name()
                .trim_start_matches("OPERATING_STATUS_")
                .to_owned()
        })
        .unwrap_or_else(|_| value.to_string())
}

/// A protocol without its enum prefix (`HTTP`).
pub fn protocol(value: i32) -> String {
    v1::Protocol::try_from(value)
        .map(|protocol| {
            protocol
                .as_str_name()
                .trim_start_matches("PROTOCOL_")
                .to_owned()
        })
        .unwrap_or_else(|_| value.to_string())
}

/// An algorithm without its enum prefix.
pub fn algorithm(value: i32) -> String {
    v1::Algorithm::try_from(value)
        .map(|algorithm| {
            algorithm
                .as_str_name()
                .trim_start_matches("ALGORITHM_")
                .to_owned()
        })
        .unwrap_or_else(|_| value.to_string())
}

/// An event type without its enum prefix.
pub fn event_type(value: i32) -> String {
    v1::EventType::try_from(value)
        .map(|kind| {
            kind.as_str_name()
                .trim_start_matches("EVENT_TYPE_")
                .to_owned()
        })
        .unwrap_or_else(|_| value.to_string())
}

/// `-` for an empty value.
pub fn or_dash(value: &str) -> String {
    if value.is_empty() {
        "-".to_owned()
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["lb-1".into(), "web".into()]);
        table.row(vec!["lb-22".into(), "api".into()]);
        assert_eq!(table.render(), "ID     NAME\nlb-1   web\nlb-22  api\n");
    }

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
