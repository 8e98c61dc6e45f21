//! The OpenAPI 3.0 document of the REST API (`GET /openapi.json`),
//! generated from the same descriptors and route table the transcoder
//! serves, so it cannot describe a path that is not served.
//!
//! Schemas follow the proto3 JSON mapping the transcoder speaks: fields by
//! their lowerCamel JSON names, 64-bit integers as strings, enums as their
//! value names, maps as objects, repeated fields as arrays, a `oneof`'s
//! members as properties of which at most one is set. Descriptions are the
//! `.proto` files' comments. Every operation takes a bearer token; the
//! document itself is served without one.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use super::errors::CODE_NAMES;
use super::routes::{BodyRule, Route, RouteTable};

/// Where the document is served.
pub const PATH: &str = "/openapi.json";
/// How deep nested message fields are flattened into query parameters
/// (`read.consistency`).
const MAX_QUERY_DEPTH: usize = 4;
/// The header a client may set to shorten its deadline.
pub const TIMEOUT_HEADER: &str = "x-request-timeout-ms";
/// The shortest deadline that header may ask for: a write must have time to
/// commit, so a shorter one could only fail.
pub const MIN_TIMEOUT_MS: u64 = 1_000;

/// The OpenAPI document of `table`'s routes.
pub fn document(table: &RouteTable) -> Value {
    let mut schemas = Schemas::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for route in table.routes() {
        let operation = operation(route, &mut schemas);
        paths
            .entry(route.template.openapi_path())
            .or_default()
            .insert(route.http_method.as_str().to_ascii_lowercase(), operation);
    }
    paths.entry(PATH.to_owned()).or_default().insert(
        "get".to_owned(),
        json!({
            "operationId": "OpenApi",
            "summary": "This document.",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI 3.0 document of this API.",
                "content": {"application/json": {"schema": {"type": "object"}}}}},
        }),
    );
    let mut components = schemas.into_components();
    components.insert(
        "Error".to_owned(),
        json!({
            "type": "object",
            "description": "Every refusal: the HTTP status, the gRPC code's name and the server's words (naming the field at fault).",
            "properties": {
                "code": {"type": "integer", "description": "The HTTP status."},
                "status": {"type": "string", "enum": CODE_NAMES},
                "message": {"type": "string"},
            },
            "required": ["code", "status", "message"],
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Fulcrum",
            "version": "v1",
            "description": "The REST/JSON face of Fulcrum's fulcrum.v1 gRPC services: each operation is one RPC, with the same authentication, roles, limits and answers. Requests and answers are proto3 JSON.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token (POST /v1/accessTokens). Without TLS the node checks no credential.",
                },
            },
        },
        "security": [{"bearer": []}],
    })
}

/// The operation object of one route.
fn operation(route: &Route, schemas: &mut Schemas) -> Value {
    let method = &route.method;
    let input = method.input();
    let output = method.output();
    let bound: Vec<String> = route.template.variables().map(str::to_owned).collect();
    let mut parameters = Vec::new();
    for variable in &bound {
        if let Some(field) = field_at(&input, variable) {
            parameters.push(json!({
                "name": variable,
                "in": "path",
                "required": true,
                "schema": schemas.field(&field),
                "description": comment_of_field(&field),
            }));
        }
    }
    let body_field = match &route.body {
        BodyRule::Field(field) => Some(field.as_str()),
        BodyRule::None | BodyRule::Whole => None,
    };
    if route.body != BodyRule::Whole {
        query_parameters(&input, "", &bound, body_field, 0, schemas, &mut parameters);
    }
    parameters.push(json!({
        "name": TIMEOUT_HEADER,
        "in": "header",
        "required": false,
        "schema": {"type": "integer", "minimum": MIN_TIMEOUT_MS},
        "description": "The call's deadline in milliseconds (at most api.max_deadline_ms); the node's raft.request_timeout_ms otherwise.",
    }));
    let mut operation = Map::new();
    let service = method.parent_service().name().to_owned();
    operation.insert(
        "operationId".to_owned(),
        json!(format!("{service}_{}", method.name())),
    );
    operation.insert("tags".to_owned(), json!([service]));
    operation.insert("summary".to_owned(), json!(method.name()));
    let description = comment(&method.parent_file(), method.path());
    let description = format!(
        "{}gRPC: {}.",
        description
            .map(|text| format!("{text}\n\n"))
            .unwrap_or_default(),
        route.grpc_path()
    );
    operation.insert("description".to_owned(), json!(description));
    operation.insert("parameters".to_owned(), Value::Array(parameters));
    let request_schema = match &route.body {
        BodyRule::Whole => Some(schemas.message(&input)),
        BodyRule::Field(field) => input
            .get_field_by_name(field)
            .map(|field| schemas.field(&field)),
        BodyRule::None => None,
    };
    if let Some(schema) = request_schema {
        operation.insert(
            "requestBody".to_owned(),
            json!({"content": {"application/json": {"schema": schema}}}),
        );
    }
    let answer = if method.is_server_streaming() {
        json!({
            "description": format!(
                "Server-Sent Events: each event's data is one {} as JSON, sent as the stream yields it; a failure ends the stream with an `error` event whose data is an Error.",
                output.name()
            ),
            "content": {"text/event-stream": {"schema": schemas.message(&output)}},
        })
    } else {
        json!({
            "description": output.name(),
            "content": {"application/json": {"schema": schemas.message(&output)}},
        })
    };
    operation.insert(
        "responses".to_owned(),
        json!({
            "200": answer,
            "default": {
                "description": "A refusal.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        }),
    );
    Value::Object(operation)
}

/// The field at a dotted path of `message`.
fn field_at(message: &MessageDescriptor, path: &str) -> Option<FieldDescriptor> {
    let mut message = message.clone();
    let mut found = None;
    for part in path.split('.') {
        let field = message.get_field_by_name(part)?;
        if let Kind::Message(inner) = field.kind() {
            message = inner;
        }
        found = Some(field);
    }
    found
}

/// The query parameters of `message`'s fields not bound elsewhere, nested
/// singular messages flattened (`read.consistency`); maps and repeated
/// messages cannot be given in a query string and are left out.
fn query_parameters(
    message: &MessageDescriptor,
    prefix: &str,
    bound: &[String],
    body_field: Option<&str>,
    depth: usize,
    schemas: &mut Schemas,
    parameters: &mut Vec<Value>,
) {
    for field in message.fields() {
        let path = format!("{prefix}{}", field.name());
        if bound.contains(&path)
            || (depth == 0 && body_field == Some(field.name()))
            || field.is_map()
        {
            continue;
        }
        match field.kind() {
            Kind::Message(_) if field.is_list() => {}
            Kind::Message(inner) if depth < MAX_QUERY_DEPTH && !is_well_known(&inner) => {
                query_parameters(
                    &inner,
                    &format!("{path}."),
                    bound,
                    None,
                    depth + 1,
                    schemas,
                    parameters,
                );
            }
            Kind::Message(_) => {}
            _ => parameters.push(json!({
                "name": path,
                "in": "query",
                "required": false,
                "schema": schemas.field(&field),
                "description": comment_of_field(&field),
            })),
        }
    }
}

fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

/// The schemas the operations refer to, gathered as they are met.
#[derive(Default)]
struct Schemas {
    schemas: BTreeMap<String, Value>,
    seen: BTreeSet<String>,
}

impl Schemas {
    fn reference(name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// A reference to `message`'s schema, made on first use.
    fn message(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = well_known(message) {
            return schema;
        }
        let name = message.full_name().to_owned();
        if self.seen.insert(name.clone()) {
            let schema = self.message_schema(message);
            self.schemas.insert(name.clone(), schema);
        }
        Self::reference(&name)
    }

    fn message_schema(&mut self, message: &MessageDescriptor) -> Value {
        let mut properties = Map::new();
        for field in message.fields() {
            let mut schema = self.field(&field);
            if let (Value::Object(object), Some(text)) = (&mut schema, comment_of_field(&field))
                && !object.contains_key("$ref")
            {
                object.insert("description".to_owned(), json!(text));
            }
            properties.insert(field.json_name().to_owned(), schema);
        }
        let mut description = comment(&message.parent_file(), message.path()).unwrap_or_default();
        for oneof in message.oneofs().filter(|oneof| !oneof.is_synthetic()) {
            let members: Vec<String> = oneof
                .fields()
                .map(|field| field.json_name().to_owned())
                .collect();
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(&format!(
                "At most one of {} ({}) is set.",
                members.join(", "),
                oneof.name()
            ));
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if !description.is_empty()
            && let Value::Object(object) = &mut schema
        {
            object.insert("description".to_owned(), json!(description));
        }
        schema
    }

    /// A field's schema: its kind's, in an array when repeated, an object
    /// of values when a map.
    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if field.is_map()
            && let Kind::Message(entry) = field.kind()
        {
            let value = self.kind(&entry.map_entry_value_field().kind());
            return json!({"type": "object", "additionalProperties": value});
        }
        let schema = self.kind(&field.kind());
        if field.is_list() {
            json!({"type": "array", "items": schema})
        } else {
            schema
        }
    }

    fn kind(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                json!({"type": "integer", "format": "int32"})
            }
            Kind::Uint32 | Kind::Fixed32 => {
                json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                json!({"type": "string", "format": "int64"})
            }
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Message(message) => self.message(message),
            Kind::Enum(descriptor) => self.enumeration(descriptor),
        }
    }

    fn enumeration(&mut self, descriptor: &EnumDescriptor) -> Value {
        let name = descriptor.full_name().to_owned();
        if self.seen.insert(name.clone()) {
            let values: Vec<String> = descriptor
                .values()
                .map(|value| value.name().to_owned())
                .collect();
            let mut schema = json!({"type": "string", "enum": values});
            if let (Value::Object(object), Some(text)) = (
                &mut schema,
                comment(&descriptor.parent_file(), descriptor.path()),
            ) {
                object.insert("description".to_owned(), json!(text));
            }
            self.schemas.insert(name.clone(), schema);
        }
        Self::reference(&name)
    }

    fn into_components(self) -> Map<String, Value> {
        self.schemas.into_iter().collect()
    }
}

/// The JSON form of the well-known types the mapping writes specially.
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "description": "Seconds with an s suffix, e.g. \"1.5s\"."})
        }
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "Comma-separated lowerCamel field paths."})
        }
        "google.protobuf.Empty" | "google.protobuf.Struct" => json!({"type": "object"}),
        "google.protobuf.Value" => json!({}),
        _ => return None,
    })
}

fn comment_of_field(field: &FieldDescriptor) -> Option<String> {
    comment(&field.parent_message().parent_file(), field.path())
}

/// The comment before the element at `path` of `file`, on one line.
fn comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info
        .location
        .iter()
        .find(|location| location.path == path)?;
    let text = location
        .leading_comments
        .as_deref()?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    fn document_of_the_contract() -> Value {
        let pool = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).expect("decodes");
        document(&RouteTable::from_pool(&pool, "fulcrum.v1").expect("valid"))
    }

    #[test]
    fn schemas_follow_the_proto3_json_mapping() {
        let document = document_of_the_contract();
        let schemas = &document["components"]["schemas"];
        let network = &schemas["fulcrum.v1.Network"]["properties"];
        assert_eq!(network["tags"]["type"], "object");
        assert_eq!(network["tags"]["additionalProperties"]["type"], "string");
        assert_eq!(network["revision"]["type"], "string", "uint64 as a string");
        let listener = &schemas["fulcrum.v1.CreateListenerRequest"]["properties"];
        assert_eq!(
            listener["protocol"]["$ref"],
            "#/components/schemas/fulcrum.v1.Protocol"
        );
        assert_eq!(listener["connectionLimit"]["format"], "int64");
        assert_eq!(listener["port"]["type"], "integer");
        assert!(
            schemas["fulcrum.v1.Protocol"]["enum"]
                .as_array()
                .expect("values")
                .contains(&json!("PROTOCOL_HTTPS"))
        );
        let event = &schemas["fulcrum.v1.Event"];
        assert!(event["properties"]["loadBalancer"].is_object());
        assert!(
            event["description"]
                .as_str()
                .expect("text")
                .contains("At most one of network, subnet"),
            "{}",
            event["description"]
        );
        let members = &schemas["fulcrum.v1.CreateGroupRequest"]["properties"]["members"];
        assert_eq!(members["type"], "array");
        assert_eq!(
            members["items"]["$ref"],
            "#/components/schemas/fulcrum.v1.MemberSpec"
        );
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(
            document["paths"]["/openapi.json"]["get"]["security"],
            json!([])
        );
    }

    #[test]
    fn operations_carry_their_parameters_and_answers() {
        let document = document_of_the_contract();
        let get = &document["paths"]["/v1/networks/{id}"]["get"];
        assert_eq!(get["operationId"], "NetworkService_GetNetwork");
        let names: Vec<&str> = get["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|parameter| parameter["name"].as_str())
            .collect();
        assert_eq!(names, ["id", "read.consistency", TIMEOUT_HEADER]);
        let create = &document["paths"]["/v1/networks"]["post"];
        assert_eq!(
            create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/fulcrum.v1.CreateNetworkRequest"
        );
        assert_eq!(
            create["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        let watch = &document["paths"]["/v1/events:watch"]["get"];
        assert!(watch["responses"]["200"]["content"]["text/event-stream"].is_object());
        assert!(
            document["paths"]["/v1/loadBalancers/{load_balancer_id}:associateEip"]["post"]["description"]
                .as_str()
                .expect("text")
                .contains("The guide's step 2.")
        );
    }
}
