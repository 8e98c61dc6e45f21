//! How a resource's values read as text in tables: enums without their
//! prefix (`ACTIVE`, not `PROVISIONING_STATUS_ACTIVE`), `-` for nothing;
//! tables with aligned columns, and `KEY  value` lines.

use fulcrum_api::v1;

use super::Resource;

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

/// A listener's forwarding rules, one per line in their order, each as
/// `name: conditions -> action`; `-` when there are none.
pub fn rules(rules: &[v1::ForwardingRule]) -> String {
    use v1::forwarding_rule::Action;
    if rules.is_empty() {
        return "-".to_owned();
    }
    rules
        .iter()
        .map(|rule| {
            let mut conditions = Vec::new();
            if !rule.host.is_empty() {
                conditions.push(format!("host {}", rule.host));
            }
            if !rule.path.is_empty() {
                let how = if rule.path_match == v1::PathMatch::Exact as i32 {
                    "path"
                } else {
                    "path prefix"
                };
                conditions.push(format!("{how} {}", rule.path));
            }
            if let Some(header) = &rule.header {
                conditions.push(format!("header {}: {}", header.name, header.value));
            }
            if conditions.is_empty() {
                conditions.push("any request".to_owned());
            }
            let action = match &rule.action {
                Some(Action::ForwardGroupId(group)) => format!("forward to {group}"),
                Some(Action::Redirect(redirect)) => {
                    let port = match redirect.port {
                        0 => String::new(),
                        port => port.to_string(),
                    };
                    let mut parts = vec![format!("redirect {}", redirect.status)];
                    for (label, value) in [
                        ("scheme", redirect.scheme.as_str()),
                        ("host", redirect.host.as_str()),
                        ("port", port.as_str()),
                        ("path", redirect.path.as_str()),
                    ] {
                        if !value.is_empty() {
                            parts.push(format!("{label} {value}"));
                        }
                    }
                    parts.join(" ")
                }
                Some(Action::FixedResponse(fixed)) => format!("answer {}", fixed.status),
                None => "-".to_owned(),
            };
            format!("{}: {} -> {action}", rule.name, conditions.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `UP` or `DOWN`.
pub fn up_down(up: bool) -> String {
    if up { "UP" } else { "DOWN" }.to_owned()
}

/// What `show` prints of a resource: every column as `KEY  value`, then
/// its detail.
pub fn shown<R: Resource>(resource: &R) -> String {
    let pairs: Vec<(&str, String)> = R::COLUMNS
        .iter()
        .map(|column| (column.title, (column.value)(resource)))
        .collect();
    let mut text = fields(&pairs);
    if let Some(detail) = resource.detail() {
        text.push_str(&detail);
    }
    text
}

/// What `list` prints of resources: a table of their listed columns.
pub fn listed<R: Resource>(resources: &[R]) -> String {
    let columns: Vec<_> = R::COLUMNS.iter().filter(|column| column.listed).collect();
    let titles: Vec<&'static str> = columns.iter().map(|column| column.title).collect();
    let mut table = Table::new(&titles);
    for resource in resources {
        table.row(
            columns
                .iter()
                .map(|column| (column.value)(resource))
                .collect(),
        );
    }
    table.render()
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
    fn enums_read_without_their_prefix() {
        assert_eq!(
            provisioning(v1::ProvisioningStatus::Active as i32),
            "ACTIVE"
        );
        assert_eq!(operating(v1::OperatingStatus::Online as i32), "ONLINE");
        assert_eq!(protocol(v1::Protocol::Https as i32), "HTTPS");
        assert_eq!(provisioning(99), "99");
        assert_eq!(or_dash(""), "-");
        assert_eq!(up_down(false), "DOWN");
    }

    #[test]
    fn resources_show_every_column_and_list_the_listed_ones() {
        let listener = v1::Listener {
            id: "lsn-1".into(),
            name: "web".into(),
            port: 80,
            protocol: v1::Protocol::Http as i32,
            ..Default::default()
        };
        let shown = shown(&listener);
        assert!(
            shown.starts_with("ID                  lsn-1\nNAME                web\n"),
            "{shown}"
        );
        assert!(shown.contains("CONNECTION LIMIT    0\n"), "{shown}");
        let listed = listed(std::slice::from_ref(&listener));
        let mut lines = listed.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("ID     NAME  LOAD BALANCER  PROTOCOL  PORT"),
            "{listed}"
        );
        assert!(!listed.contains("CERTIFICATE"), "{listed}");
        let group = v1::VirtualServerGroup {
            id: "grp-1".into(),
            members: vec![v1::Member {
                id: "mbr-1".into(),
                port: 8080,
                weight: 3,
                ..Default::default()
            }],
            ..Default::default()
        };
        let shown = super::shown(&group);
        assert!(shown.contains("\nMEMBERS\n"), "{shown}");
        assert!(shown.contains("mbr-1"), "{shown}");
    }
}
