//! Route matching: the table of HTTP bindings read from the methods'
//! `google.api.http` annotations in the descriptor set, and the lookup of a
//! request's method and path in it.
//!
//! A path template is `/` followed by segments, each a literal or a
//! `{field}` variable (a request field, dotted for a nested one, bound to
//! exactly one segment), the last one optionally ending in `:verb`
//! (`/v1/loadBalancers/{load_balancer_id}:associateEip`); in a request, a
//! `:` in the last segment starts its verb. Multi-segment
//! variables (`{name=**}`), wildcards and `response_body` are refused when
//! the table is built: the contract does not use them, and a route that
//! cannot be served must stop the node from starting rather than answer
//! wrongly. Two bindings that could match the same request are refused too,
//! so a lookup never depends on the order of the table.

use http::Method;
use percent_encoding::percent_decode_str;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MessageDescriptor, MethodDescriptor, Value,
};

/// The extension that carries a method's HTTP binding.
const HTTP_EXTENSION: &str = "google.api.http";
/// The HTTP rule's verb fields, with the method each stands for.
const VERB_FIELDS: [(&str, Method); 5] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("patch", Method::PATCH),
];
/// How deep `additional_bindings` may nest (the rule allows one level).
const MAX_BINDING_DEPTH: usize = 1;
/// The most segments a template (or a request path) may have.
pub const MAX_SEGMENTS: usize = 32;

/// Why the table could not be built: the method and the rule at fault.
#[derive(Debug, thiserror::Error)]
#[error("{method}: google.api.http: {rule}")]
pub struct RouteError {
    /// The method's full name.
    pub method: String,
    /// What is wrong with its binding.
    pub rule: String,
}

/// Where a request's fields come from besides the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyRule {
    /// No body: the fields not in the path come from the query string.
    None,
    /// The whole request (less the path variables) is the body (`*`).
    Whole,
    /// The body fills this top-level field; the others come from the query.
    Field(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A request field's dotted path (proto names).
    Variable(String),
}

/// A parsed path template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    verb: Option<String>,
    text: String,
}

impl Template {
    /// Parses `text`, or says what is wrong with it.
    fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| format!("{text:?} must start with /"))?;
        let (path, verb) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('}') => {
                (&rest[..colon], Some(rest[colon + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        if verb
            .as_deref()
            .is_some_and(|verb| verb.is_empty() || verb.contains('/'))
        {
            return Err(format!("{text:?} has an empty or misplaced :verb"));
        }
        let mut segments = Vec::new();
        for segment in path.split('/') {
            if segment.is_empty() {
                return Err(format!("{text:?} has an empty segment"));
            }
            if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                // `{field=*}` is `{field}`; anything else spans segments.
                let field = inner.strip_suffix("=*").unwrap_or(inner);
                if field.is_empty()
                    || !field
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Err(format!(
                        "{text:?}: variable {{{inner}}} is not supported (only {{field}} bound to one segment)"
                    ));
                }
                segments.push(Segment::Variable(field.to_owned()));
            } else if segment.contains(['{', '}', '*']) {
                return Err(format!("{text:?}: segment {segment:?} is not supported"));
            } else {
                segments.push(Segment::Literal(segment.to_owned()));
            }
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(format!("{text:?} has more than {MAX_SEGMENTS} segments"));
        }
        Ok(Self {
            segments,
            verb,
            text: text.to_owned(),
        })
    }

    /// The template as written in the annotation.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The template as an OpenAPI path: `{field=*}` written `{field}`.
    pub fn openapi_path(&self) -> String {
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Literal(literal) => path.push_str(literal),
                Segment::Variable(field) => {
                    path.push('{');
                    path.push_str(field);
                    path.push('}');
                }
            }
        }
        if let Some(verb) = &self.verb {
            path.push(':');
            path.push_str(verb);
        }
        path
    }

    /// The fields its variables bind, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Variable(field) => Some(field.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The variables' values when `segments` (still percent-encoded, the
    /// verb split off the last) and `verb` match, `None` otherwise.
    fn matches(&self, segments: &[&str], verb: Option<&str>) -> Option<Vec<(String, String)>> {
        if self.verb.as_deref() != verb || segments.len() != self.segments.len() {
            return None;
        }
        let mut variables = Vec::new();
        for (segment, raw) in self.segments.iter().zip(segments) {
            let decoded = percent_decode_str(raw).decode_utf8().ok()?;
            match segment {
                Segment::Literal(literal) if *literal == decoded => {}
                Segment::Literal(_) => return None,
                Segment::Variable(_) if decoded.is_empty() => return None,
                Segment::Variable(field) => variables.push((field.clone(), decoded.into_owned())),
            }
        }
        Some(variables)
    }

    /// Whether one request path could match both templates.
    fn overlaps(&self, other: &Self) -> bool {
        self.verb == other.verb
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a == b,
                    _ => true,
                })
    }
}

/// One HTTP binding of one RPC.
#[derive(Clone, Debug)]
pub struct Route {
    /// The HTTP method.
    pub http_method: Method,
    /// The path template.
    pub template: Template,
    /// The RPC.
    pub method: MethodDescriptor,
    /// Where the fields not in the path come from.
    pub body: BodyRule,
}

impl Route {
    /// The gRPC path of the RPC: `/package.Service/Method`.
    pub fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.method.parent_service().full_name(),
            self.method.name()
        )
    }
}

/// A request's route and its path variables (field path, decoded value).
#[derive(Debug)]
pub struct Matched<'t> {
    /// The route.
    pub route: &'t Route,
    /// The variables' values.
    pub variables: Vec<(String, String)>,
}

/// Why a request has no route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Miss {
    /// No binding has this path.
    NotFound,
    /// Bindings have this path, with these methods only.
    MethodNotAllowed(Vec<Method>),
}

/// Every HTTP binding of the services in a descriptor pool.
#[derive(Clone, Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// The bindings of every method of every service in `pool` whose
    /// package is `package`; a method without an annotation has no route.
    pub fn from_pool(pool: &DescriptorPool, package: &str) -> Result<Self, RouteError> {
        let extension = pool.get_extension_by_name(HTTP_EXTENSION);
        let mut routes: Vec<Route> = Vec::new();
        for service in pool
            .services()
            .filter(|service| service.package_name() == package)
        {
            for method in service.methods() {
                let options = method.options();
                let Some(extension) = extension.as_ref().filter(|e| options.has_extension(e))
                else {
                    continue;
                };
                let Value::Message(rule) = options.get_extension(extension).into_owned() else {
                    continue;
                };
                let error = |rule: String| RouteError {
                    method: method.full_name().to_owned(),
                    rule,
                };
                if method.is_client_streaming() {
                    return Err(error("client-streaming methods cannot be bound".to_owned()));
                }
                for route in bindings(&method, &rule, 0).map_err(error)? {
                    if let Some(twin) = routes.iter().find(|existing| {
                        existing.http_method == route.http_method
                            && existing.template.overlaps(&route.template)
                    }) {
                        return Err(error(format!(
                            "{} {} overlaps {} {} of {}",
                            route.http_method,
                            route.template.text,
                            twin.http_method,
                            twin.template.text,
                            twin.method.full_name()
                        )));
                    }
                    routes.push(route);
                }
            }
        }
        Ok(Self { routes })
    }

    /// Every route, in the order of the contract.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route of `method` on `path` (without its query string).
    pub fn find(&self, method: &Method, path: &str) -> Result<Matched<'_>, Miss> {
        let Some(rest) = path.strip_prefix('/') else {
            return Err(Miss::NotFound);
        };
        let mut segments: Vec<&str> = rest.splitn(MAX_SEGMENTS + 1, '/').collect();
        // A `:` in the last segment starts its verb (an escaped one, `%3A`,
        // is part of the value).
        let mut verb = None;
        if let Some(last) = segments.last_mut()
            && let Some((segment, custom)) = last.rsplit_once(':')
        {
            *last = segment;
            verb = Some(custom);
        }
        let mut allowed = Vec::new();
        for route in &self.routes {
            if let Some(variables) = route.template.matches(&segments, verb) {
                if route.http_method == *method {
                    return Ok(Matched { route, variables });
                }
                if !allowed.contains(&route.http_method) {
                    allowed.push(route.http_method.clone());
                }
            }
        }
        if allowed.is_empty() {
            Err(Miss::NotFound)
        } else {
            Err(Miss::MethodNotAllowed(allowed))
        }
    }
}

/// The routes one HTTP rule (and its additional bindings) describes.
fn bindings(
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    depth: usize,
) -> Result<Vec<Route>, String> {
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut pattern = None;
    for (field, http_method) in &VERB_FIELDS {
        if rule.has_field_by_name(field) {
            pattern = Some((http_method.clone(), text(field)));
        }
    }
    if rule.has_field_by_name("custom") {
        let Some(Value::Message(custom)) = rule.get_field_by_name("custom").map(|v| v.into_owned())
        else {
            return Err("custom: not a CustomHttpPattern".to_owned());
        };
        let part = |name: &str| {
            custom
                .get_field_by_name(name)
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let kind = Method::from_bytes(part("kind").as_bytes())
            .map_err(|_| format!("custom.kind: {:?} is not an HTTP method", part("kind")))?;
        pattern = Some((kind, part("path")));
    }
    let Some((http_method, path)) = pattern else {
        return Err("names no verb and path (get, put, post, delete, patch or custom)".to_owned());
    };
    if !text("response_body").is_empty() {
        return Err("response_body is not supported: the whole response is the body".to_owned());
    }
    let template = Template::parse(&path)?;
    let input = method.input();
    for variable in template.variables() {
        check_variable(&input, variable)?;
    }
    let body = match text("body").as_str() {
        "" => BodyRule::None,
        "*" => BodyRule::Whole,
        field => {
            if input.get_field_by_name(field).is_none() {
                return Err(format!(
                    "body: {field} is not a field of {}",
                    input.full_name()
                ));
            }
            if template
                .variables()
                .any(|variable| variable.split('.').next() == Some(field))
            {
                return Err(format!("body: {field} is also bound in the path"));
            }
            BodyRule::Field(field.to_owned())
        }
    };
    if http_method == Method::GET && body != BodyRule::None {
        return Err("a GET binding cannot take a body".to_owned());
    }
    let mut routes = vec![Route {
        http_method,
        template,
        method: method.clone(),
        body,
    }];
    if let Some(Value::List(more)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        if !more.is_empty() && depth >= MAX_BINDING_DEPTH {
            return Err("additional_bindings may not nest".to_owned());
        }
        for binding in more {
            if let Value::Message(binding) = binding {
                routes.extend(bindings(method, &binding, depth + 1)?);
            }
        }
    }
    Ok(routes)
}

/// A path variable must name a singular scalar field of the request.
fn check_variable(input: &MessageDescriptor, path: &str) -> Result<(), String> {
    let mut message = input.clone();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = message.get_field_by_name(part).ok_or_else(|| {
            format!(
                "{{{path}}}: {part} is not a field of {}",
                message.full_name()
            )
        })?;
        if field.is_list() || field.is_map() {
            return Err(format!("{{{path}}}: a path variable cannot be repeated"));
        }
        match (field.kind(), parts.peek()) {
            (Kind::Message(next), Some(_)) => message = next,
            (Kind::Message(_), None) => {
                return Err(format!(
                    "{{{path}}}: a path variable must be a scalar, not a message"
                ));
            }
            (_, Some(_)) => return Err(format!("{{{path}}}: {part} is not a message")),
            (_, None) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).expect("decodes");
        RouteTable::from_pool(&pool, "fulcrum.v1").expect("the contract's bindings are valid")
    }

    /// The gRPC path and the variables a request matches, or its miss.
    type Expected = Result<(&'static str, &'static [(&'static str, &'static str)]), Miss>;

    /// `method path` → the RPC and variables, or the miss.
    fn check(table: &RouteTable, method: Method, path: &str, expected: Expected) {
        let found = table
            .find(&method, path)
            .map(|matched| (matched.route.grpc_path(), matched.variables.clone()));
        let expected = expected.map(|(rpc, variables)| {
            (
                rpc.to_owned(),
                variables
                    .iter()
                    .map(|(field, value)| ((*field).to_owned(), (*value).to_owned()))
                    .collect::<Vec<_>>(),
            )
        });
        assert_eq!(found, expected, "{method} {path}");
    }

    #[test]
    fn requests_find_their_rpc_and_variables() {
        let table = table();
        let cases: &[(Method, &str, Expected)] = &[
            (
                Method::POST,
                "/v1/networks",
                Ok(("/fulcrum.v1.NetworkService/CreateNetwork", &[])),
            ),
            (
                Method::GET,
                "/v1/networks",
                Ok(("/fulcrum.v1.NetworkService/ListNetworks", &[])),
            ),
            (
                Method::GET,
                "/v1/networks/net-1",
                Ok(("/fulcrum.v1.NetworkService/GetNetwork", &[("id", "net-1")])),
            ),
            (
                Method::DELETE,
                "/v1/networks/net%2D1",
                Ok((
                    "/fulcrum.v1.NetworkService/DeleteNetwork",
                    &[("id", "net-1")],
                )),
            ),
            (
                Method::POST,
                "/v1/loadBalancers/lb-7:associateEip",
                Ok((
                    "/fulcrum.v1.LoadBalancerService/AssociateEip",
                    &[("load_balancer_id", "lb-7")],
                )),
            ),
            (
                Method::PATCH,
                "/v1/loadBalancers/lb-7",
                Ok((
                    "/fulcrum.v1.LoadBalancerService/UpdateLoadBalancer",
                    &[("id", "lb-7")],
                )),
            ),
            (
                Method::GET,
                "/v1/loadBalancers/lb-7/statusTree",
                Ok((
                    "/fulcrum.v1.LoadBalancerService/GetStatusTree",
                    &[("load_balancer_id", "lb-7")],
                )),
            ),
            (
                Method::PATCH,
                "/v1/groups/g-1/members/m-2",
                Ok((
                    "/fulcrum.v1.VirtualServerGroupService/UpdateMember",
                    &[("group_id", "g-1"), ("member_id", "m-2")],
                )),
            ),
            (
                Method::GET,
                "/v1/events",
                Ok(("/fulcrum.v1.EventService/ListEvents", &[])),
            ),
            (
                Method::GET,
                "/v1/events:watch",
                Ok(("/fulcrum.v1.EventService/Watch", &[])),
            ),
            (
                Method::GET,
                "/v1/cluster/status",
                Ok(("/fulcrum.v1.ClusterService/GetClusterStatus", &[])),
            ),
            (
                Method::POST,
                "/v1/cluster/nodes/4:promote",
                Ok((
                    "/fulcrum.v1.ClusterService/PromoteNode",
                    &[("node_id", "4")],
                )),
            ),
            (
                Method::POST,
                "/v1/accessTokens",
                Ok(("/fulcrum.v1.AccessTokenService/CreateAccessToken", &[])),
            ),
            // Misses: unknown paths, a verb that is not the route's, an
            // empty variable, a trailing slash; and a known path with
            // another method.
            (Method::GET, "/v1/nothing", Err(Miss::NotFound)),
            (Method::GET, "/v1/events:nap", Err(Miss::NotFound)),
            (Method::GET, "/v1/networks/", Err(Miss::NotFound)),
            (Method::GET, "/v1/networks/net-1/", Err(Miss::NotFound)),
            (Method::GET, "v1/networks", Err(Miss::NotFound)),
            (Method::GET, "/v1/networks/a:b", Err(Miss::NotFound)),
            (
                Method::GET,
                "/v1/networks/a%3Ab",
                Ok(("/fulcrum.v1.NetworkService/GetNetwork", &[("id", "a:b")])),
            ),
            (
                Method::GET,
                "/v1/loadBalancers/lb-7:associateEip",
                Err(Miss::MethodNotAllowed(vec![Method::POST])),
            ),
            (
                Method::PUT,
                "/v1/networks/net-1",
                Err(Miss::MethodNotAllowed(vec![Method::GET, Method::DELETE])),
            ),
        ];
        for (method, path, expected) in cases {
            check(&table, method.clone(), path, expected.clone());
        }
    }

    /// Every public RPC has exactly one binding, and its variables name
    /// fields of its request.
    #[test]
    fn every_public_rpc_has_one_binding() {
        let pool = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).expect("decodes");
        let table = table();
        for service in pool.services().filter(|s| s.package_name() == "fulcrum.v1") {
            for method in service.methods() {
                let count = table
                    .routes()
                    .iter()
                    .filter(|route| route.method.full_name() == method.full_name())
                    .count();
                assert_eq!(count, 1, "{} has {count} bindings", method.full_name());
            }
        }
    }

    #[test]
    fn bad_templates_are_refused_with_the_rule() {
        for (template, expected) in [
            ("v1/networks", "must start with /"),
            ("/v1//networks", "empty segment"),
            ("/v1/{name=**}", "not supported"),
            ("/v1/*/networks", "not supported"),
            ("/v1/networks:", "empty or misplaced :verb"),
        ] {
            let error = Template::parse(template).expect_err(template);
            assert!(error.contains(expected), "{template}: {error}");
        }
        let template = Template::parse("/v1/a/{id=*}:go").expect("valid");
        assert_eq!(template.variables().collect::<Vec<_>>(), ["id"]);
        let pool = DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).expect("decodes");
        let input = pool
            .get_message_by_name("fulcrum.v1.GetNetworkRequest")
            .expect("a message");
        assert!(check_variable(&input, "id").is_ok());
        assert!(check_variable(&input, "read.consistency").is_ok());
        assert!(
            check_variable(&input, "read")
                .expect_err("a message")
                .contains("scalar")
        );
        assert!(
            check_variable(&input, "colour")
                .expect_err("unknown")
                .contains("not a field")
        );
    }

    #[test]
    fn overlapping_templates_are_found() {
        let parse = |text| Template::parse(text).expect("valid");
        assert!(parse("/v1/a/{id}").overlaps(&parse("/v1/a/b")));
        assert!(parse("/v1/a/{id}").overlaps(&parse("/v1/{x}/c")));
        assert!(!parse("/v1/a/{id}").overlaps(&parse("/v1/a/{id}:go")));
        assert!(!parse("/v1/a/{id}").overlaps(&parse("/v1/a")));
        assert!(!parse("/v1/a/b").overlaps(&parse("/v1/a/c")));
    }
}
