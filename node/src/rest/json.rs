//! JSON ↔ protobuf for the REST API, in the proto3 JSON mapping
//! (prost-reflect's serde support): a request message from the path
//! variables, the query string and the JSON body; an answer as JSON.
//!
//! The request is first gathered into one JSON object, so that one
//! conversion (and one set of rules: lowerCamel or proto field names,
//! 64-bit integers as strings or numbers, enums by name or number) applies
//! whatever the source. A path variable the body also sets must agree with
//! it. A request that does not convert is refused with the dotted path of
//! the field at fault (`member.port`, `members[2].weight`): the
//! conversion's own error does not say where, so the fields are tried one
//! at a time to find it (only on the error path).

use bytes::Bytes;
use percent_encoding::percent_decode_str;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions,
};
use serde_json::{Map, Value};
use tonic::Code;

use super::errors::RestError;
use super::routes::{BodyRule, Route};

/// The most parameters a query string may carry.
pub const MAX_QUERY_PARAMETERS: usize = 64;
/// How deep the search for a faulty field descends into nested messages.
const MAX_DIAGNOSIS_DEPTH: usize = 16;

/// Where a field's value came from, for the rules on repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Path,
    Query,
}

/// The request message of `route` from its path `variables`, the `query`
/// string (without `?`) and the `body` bytes.
pub fn request(
    route: &Route,
    variables: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, RestError> {
    let input = route.method.input();
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let mut object = match &route.body {
        BodyRule::Whole if blank => Map::new(),
        BodyRule::Whole => match parse_body(body)? {
            Value::Object(object) => object,
            _ => return Err(RestError::invalid("body", "expected a JSON object")),
        },
        BodyRule::Field(field) => {
            let mut object = Map::new();
            if !blank {
                object.insert(field.clone(), parse_body(body)?);
            }
            object
        }
        BodyRule::None if blank => Map::new(),
        BodyRule::None => {
            return Err(RestError::invalid(
                "body",
                "this method takes no body: its fields go in the query string",
            ));
        }
    };
    for (key, value) in query_pairs(query.unwrap_or_default())? {
        if route.body == BodyRule::Whole {
            return Err(RestError::invalid(
                &key,
                "this method takes its fields in the JSON body, not the query string",
            ));
        }
        set(&input, &mut object, &key, &value, Source::Query)?;
    }
    for (field, value) in variables {
        set(&input, &mut object, field, value, Source::Path)?;
    }
    let value = Value::Object(object);
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    DynamicMessage::deserialize_with_options(input.clone(), &value, &options).map_err(|error| {
        match culprit(&input, &value, 0) {
            Some((field, reason)) => RestError::invalid(&field, reason),
            None => RestError::invalid("body", error),
        }
    })
}

/// The JSON of a protobuf answer: every field without presence is shown,
/// defaults included, so a client need not know the defaults; fields with
/// presence (`optional`, messages, oneof members) only when set.
pub fn render(message: &DynamicMessage) -> Result<Vec<u8>, RestError> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut out);
    message
        .serialize_with_options(
            &mut serializer,
            &SerializeOptions::new().skip_default_fields(false),
        )
        .map_err(|error| {
            RestError::new(
                Code::Internal,
                format!("the answer could not be rendered as JSON: {error}"),
            )
        })?;
    Ok(out)
}

/// Decodes a protobuf answer of type `output`.
pub fn decode(output: &MessageDescriptor, bytes: Bytes) -> Result<DynamicMessage, RestError> {
    DynamicMessage::decode(output.clone(), bytes).map_err(|error| {
        RestError::new(
            Code::Internal,
            format!("the answer is not a {}: {error}", output.full_name()),
        )
    })
}

fn parse_body(body: &[u8]) -> Result<Value, RestError> {
    serde_json::from_slice(body)
        .map_err(|error| RestError::invalid("body", format!("not JSON: {error}")))
}

/// The decoded `key=value` pairs of a query string (`+` is a space).
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, RestError> {
    let decode = |text: &str| {
        let spaced = text.replace('+', " ");
        percent_decode_str(&spaced)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| RestError::invalid("query", format!("{text:?} is not UTF-8 once decoded")))
    };
    let pairs: Vec<&str> = query.split('&').filter(|pair| !pair.is_empty()).collect();
    if pairs.len() > MAX_QUERY_PARAMETERS {
        return Err(RestError::invalid(
            "query",
            format!("more than {MAX_QUERY_PARAMETERS} parameters"),
        ));
    }
    pairs
        .into_iter()
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(key)?, decode(value)?))
        })
        .collect()
}

/// The field `name` of `message`, by its proto or its JSON name.
fn field_named(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

/// Puts `text` at the dotted field `path` of the request object.
fn set(
    input: &MessageDescriptor,
    object: &mut Map<String, Value>,
    path: &str,
    text: &str,
    source: Source,
) -> Result<(), RestError> {
    let mut message = input.clone();
    let mut object = object;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = field_named(&message, part).ok_or_else(|| {
            RestError::invalid(path, format!("not a field of {}", message.full_name()))
        })?;
        if parts.peek().is_some() {
            let Kind::Message(inner) = field.kind() else {
                return Err(RestError::invalid(path, format!("{part} is not a message")));
            };
            if field.is_list() || field.is_map() {
                return Err(RestError::invalid(
                    path,
                    format!("{part} is repeated: give it in a JSON body"),
                ));
            }
            let key = existing_key(object, &field);
            let entry = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(inner_object) = entry else {
                return Err(RestError::invalid(path, format!("{part} is not an object")));
            };
            object = inner_object;
            message = inner;
            continue;
        }
        let value = scalar(&field, text).map_err(|rule| RestError::invalid(path, rule))?;
        let key = existing_key(object, &field);
        if field.is_list() {
            match object
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(items) => items.push(value),
                _ => return Err(RestError::invalid(path, "expected a list")),
            }
            return Ok(());
        }
        if let Some(given) = object.get(&key) {
            let agrees = match given {
                Value::String(given) => given == text,
                Value::Number(given) => given.to_string() == text,
                Value::Bool(given) => given.to_string() == text,
                _ => false,
            };
            match source {
                Source::Query => {
                    return Err(RestError::invalid(path, "given more than once"));
                }
                Source::Path if !agrees => {
                    return Err(RestError::invalid(
                        path,
                        format!("the path says {text:?}, the body says {given}"),
                    ));
                }
                Source::Path => {}
            }
        }
        object.insert(key, value);
    }
    Ok(())
}

/// The key under which `object` already holds `field` (its JSON name or
/// its proto name), else its JSON name.
fn existing_key(object: &Map<String, Value>, field: &FieldDescriptor) -> String {
    if object.contains_key(field.name()) {
        field.name().to_owned()
    } else {
        field.json_name().to_owned()
    }
}

/// The JSON value of a scalar given as text in a path or query string,
/// checked here so that the refusal names the field.
fn scalar(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    fn check<T: std::str::FromStr>(text: &str, what: &str) -> Result<Value, String> {
        text.parse::<T>()
            .map(|_| Value::String(text.to_owned()))
            .map_err(|_| format!("{text:?} is not {what}"))
    }
    if field.is_map() {
        return Err("a map cannot be given in a path or query string".to_owned());
    }
    match field.kind() {
        Kind::String | Kind::Bytes => Ok(Value::String(text.to_owned())),
        Kind::Bool => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => check::<i32>(text, "a 32-bit integer"),
        Kind::Uint32 | Kind::Fixed32 => check::<u32>(text, "an unsigned 32-bit integer"),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => check::<i64>(text, "a 64-bit integer"),
        Kind::Uint64 | Kind::Fixed64 => check::<u64>(text, "an unsigned 64-bit integer"),
        Kind::Float | Kind::Double => check::<f64>(text, "a number"),
        Kind::Enum(descriptor) => {
            if let Ok(number) = text.parse::<i32>() {
                return Ok(Value::from(number));
            }
            if descriptor.get_value_by_name(text).is_some() {
                return Ok(Value::String(text.to_owned()));
            }
            let names: Vec<String> = descriptor
                .values()
                .map(|value| value.name().to_owned())
                .collect();
            let names = names.join(", ");
            Err(format!("{text:?} is not one of {names}"))
        }
        Kind::Message(message) => Err(format!(
            "{} is a message: give its fields one by one (field.subfield=value)",
            message.full_name()
        )),
    }
}

/// The dotted path of the first field of `value` that does not convert to
/// `message`, and why.
fn culprit(message: &MessageDescriptor, value: &Value, depth: usize) -> Option<(String, String)> {
    let Value::Object(object) = value else {
        return None;
    };
    for (key, item) in object {
        let Some(field) = field_named(message, key) else {
            return Some((
                key.clone(),
                format!("not a field of {}", message.full_name()),
            ));
        };
        let alone = Value::Object(Map::from_iter([(key.clone(), item.clone())]));
        let options = DeserializeOptions::new().deny_unknown_fields(true);
        let Err(error) =
            DynamicMessage::deserialize_with_options(message.clone(), &alone, &options)
        else {
            continue;
        };
        if depth < MAX_DIAGNOSIS_DEPTH
            && let Kind::Message(inner) = field.kind()
            && !field.is_map()
        {
            let deeper = match item {
                Value::Array(items) if field.is_list() => {
                    items.iter().enumerate().find_map(|(n, element)| {
                        culprit(&inner, element, depth + 1)
                            .map(|(path, reason)| (format!("{key}[{n}].{path}"), reason))
                    })
                }
                Value::Object(_) if !field.is_list() => culprit(&inner, item, depth + 1)
                    .map(|(path, reason)| (format!("{key}.{path}"), reason)),
                _ => None,
            };
            if deeper.is_some() {
                return deeper;
            }
        }
        return Some((key.clone(), error.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::super::routes::RouteTable;
    use super::*;

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).expect("decodes");
        RouteTable::from_pool(&pool, "fulcrum.v1").expect("valid")
    }

    /// The request `method path?query` with `body` makes, as proto3 JSON
    /// (proto field names), or the refusal's message.
    fn check(
        method: http::Method,
        path_and_query: &str,
        body: &str,
        expected: Result<Value, &str>,
    ) {
        let table = table();
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let matched = table.find(&method, path).expect("a route");
        let made =
            request(matched.route, &matched.variables, query, body.as_bytes()).map(|message| {
                let mut out = Vec::new();
                let mut serializer = serde_json::Serializer::new(&mut out);
                message
                    .serialize_with_options(
                        &mut serializer,
                        &SerializeOptions::new().use_proto_field_name(true),
                    )
                    .expect("serializes");
                serde_json::from_slice::<Value>(&out).expect("JSON")
            });
        match (made, expected) {
            (Ok(made), Ok(expected)) => assert_eq!(made, expected, "{path_and_query}"),
            (Err(error), Err(expected)) => {
                assert_eq!(error.status, http::StatusCode::BAD_REQUEST);
                assert_eq!(error.message, expected, "{path_and_query}");
            }
            (made, expected) => panic!("{path_and_query}: {made:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn requests_gather_path_query_and_body() {
        use http::Method;
        use serde_json::json;
        check(
            Method::POST,
            "/v1/networks",
            r#"{"name": "vpc", "cidr": "10.0.0.0/16", "tags": {"team": "web"}, "clientToken": "t-1"}"#,
            Ok(
                json!({"client_token": "t-1", "name": "vpc", "cidr": "10.0.0.0/16", "tags": {"team": "web"}}),
            ),
        );
        check(
            Method::GET,
            "/v1/subnets?network_id=net-1&pageSize=5&read.consistency=READ_CONSISTENCY_LOCAL",
            "",
            Ok(
                json!({"network_id": "net-1", "page_size": 5, "read": {"consistency": "READ_CONSISTENCY_LOCAL"}}),
            ),
        );
        check(
            Method::DELETE,
            "/v1/loadBalancers/lb-1?cascade=true&expected_revision=7&client_token=a%20b+c",
            "",
            Ok(
                json!({"id": "lb-1", "cascade": true, "expected_revision": "7", "client_token": "a b c"}),
            ),
        );
        check(
            Method::POST,
            "/v1/loadBalancers/lb-1:associateEip",
            r#"{"eip_id": "eip-1"}"#,
            Ok(json!({"load_balancer_id": "lb-1", "eip_id": "eip-1"})),
        );
        // The path and the body may both name the id if they agree.
        check(
            Method::PATCH,
            "/v1/listeners/ls-1",
            r#"{"id": "ls-1", "connectionLimit": "100"}"#,
            Ok(json!({"id": "ls-1", "connection_limit": "100"})),
        );
        check(
            Method::POST,
            "/v1/cluster/nodes/4:promote",
            "",
            Ok(json!({"node_id": "4"})),
        );
        check(
            Method::GET,
            "/v1/events:watch?from_revision=12",
            "",
            Ok(json!({"from_revision": "12"})),
        );
    }

    #[test]
    fn bad_requests_name_the_field() {
        use http::Method;
        let cases: &[(Method, &str, &str, &str)] = &[
            (
                Method::POST,
                "/v1/networks",
                r#"{"name": "vpc""#,
                "body: not JSON: EOF while parsing an object at line 1 column 14",
            ),
            (
                Method::POST,
                "/v1/networks",
                "[1]",
                "body: expected a JSON object",
            ),
            (
                Method::POST,
                "/v1/networks",
                r#"{"colour": "red"}"#,
                "colour: not a field of fulcrum.v1.CreateNetworkRequest",
            ),
            (
                Method::POST,
                "/v1/groups/g-1/members",
                r#"{"member": {"instanceId": "i-1", "port": "eighty"}}"#,
                "member.port: invalid digit found in string",
            ),
            (
                Method::POST,
                "/v1/groups",
                r#"{"members": [{"port": 80}, {"weigth": 3}]}"#,
                "members[1].weigth: not a field of fulcrum.v1.MemberSpec",
            ),
            (
                Method::POST,
                "/v1/listeners",
                r#"{"protocol": "PROTOCOL_GOPHER"}"#,
                "protocol: unrecognized enum value 'PROTOCOL_GOPHER'",
            ),
            (
                Method::GET,
                "/v1/networks?page_size=ten",
                "",
                "page_size: \"ten\" is not an unsigned 32-bit integer",
            ),
            (
                Method::GET,
                "/v1/networks?page_size=1&page_size=2",
                "",
                "page_size: given more than once",
            ),
            (
                Method::GET,
                "/v1/networks?colour=red",
                "",
                "colour: not a field of fulcrum.v1.ListNetworksRequest",
            ),
            (
                Method::GET,
                "/v1/networks?read.consistency=SOMETIMES",
                "",
                "read.consistency: \"SOMETIMES\" is not one of READ_CONSISTENCY_UNSPECIFIED, READ_CONSISTENCY_LINEARIZABLE, READ_CONSISTENCY_LOCAL",
            ),
            (
                Method::GET,
                "/v1/networks?read=x",
                "",
                "read: fulcrum.v1.ReadOptions is a message: give its fields one by one (field.subfield=value)",
            ),
            (
                Method::GET,
                "/v1/networks",
                "{}",
                "body: this method takes no body: its fields go in the query string",
            ),
            (
                Method::POST,
                "/v1/networks?name=vpc",
                "{}",
                "name: this method takes its fields in the JSON body, not the query string",
            ),
            (
                Method::PATCH,
                "/v1/listeners/ls-1",
                r#"{"id": "ls-2"}"#,
                "id: the path says \"ls-1\", the body says \"ls-2\"",
            ),
            (
                Method::DELETE,
                "/v1/networks/net-1?cascade=yes",
                "",
                "cascade: not a field of fulcrum.v1.DeleteNetworkRequest",
            ),
            (
                Method::DELETE,
                "/v1/loadBalancers/lb-1?cascade=yes",
                "",
                "cascade: \"yes\" is not true or false",
            ),
        ];
        for (method, path, body, expected) in cases {
            check(method.clone(), path, body, Err(expected));
        }
    }

    #[test]
    fn answers_show_defaults_and_64_bit_integers_as_strings() {
        let pool = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).expect("decodes");
        let output = pool
            .get_message_by_name("fulcrum.v1.DeleteNetworkResponse")
            .expect("a message");
        let message = decode(&output, Bytes::from_static(&[0x08, 0x2a])).expect("decodes");
        let json: Value =
            serde_json::from_slice(&render(&message).expect("renders")).expect("JSON");
        assert_eq!(json, serde_json::json!({"revision": "42"}));
        let empty = decode(&output, Bytes::new()).expect("decodes");
        let json: Value = serde_json::from_slice(&render(&empty).expect("renders")).expect("JSON");
        assert_eq!(json, serde_json::json!({"revision": "0"}));
        assert_eq!(
            decode(&output, Bytes::from_static(&[0xff]))
                .expect_err("garbage")
                .code,
            Code::Internal
        );
    }
}
