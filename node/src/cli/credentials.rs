//! Where the client commands connect and with which credentials: each
//! setting from its flag, else its environment variable, else the CLI config
//! file, else its default; then the files they name, read when connecting.
//!
//! | setting      | flag           | environment          | config file key |
//! |--------------|----------------|----------------------|-----------------|
//! | endpoint     | `--endpoint`   | `FULCRUM_ENDPOINT`   | `endpoint`      |
//! | CA           | `--ca`         | `FULCRUM_CA`         | `ca`            |
//! | certificate  | `--cert`       | `FULCRUM_CERT`       | `cert`          |
//! | private key  | `--key`        | `FULCRUM_KEY`        | `key`           |
//! | token        | `--token`      | `FULCRUM_TOKEN`      | `token`         |
//! | token file   | `--token-file` | `FULCRUM_TOKEN_FILE` | `token_file`    |
//!
//! Two pairs are decided together, by the first source that names either
//! half: `cert` and `key` (that source must give both), and `token` and
//! `token_file` (that source may give only one). An empty environment
//! variable counts as unset. Relative paths in the config file are relative
//! to the file's directory. The config file is `--cli-config`, else
//! `FULCRUM_CLI_CONFIG` (either must exist), else
//! `$XDG_CONFIG_HOME/fulcrum/cli.toml` or `~/.config/fulcrum/cli.toml` when
//! it exists.
//!
//! [`resolve`] is a pure function of the flags, the environment and the
//! config file's text; [`read_config`] and [`Connection::credentials`] read
//! the files.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use fulcrum_api::Credentials;
use fulcrum_api::client::Authorization;
use serde::Deserialize;

use super::args::ConnectionFlags;

/// The endpoint when no source names one.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:7400";
/// The largest CLI config file read, in bytes.
pub const CONFIG_FILE_MAX_BYTES: u64 = 64 << 10;
/// The largest CA, certificate, key or token file read, in bytes.
pub const CREDENTIAL_FILE_MAX_BYTES: u64 = 1 << 20;

/// The flag and variable naming the CLI config file.
const CONFIG_FLAG: &str = "--cli-config";
const CONFIG_VARIABLE: &str = "FULCRUM_CLI_CONFIG";
/// The default config file, under the user's configuration directory.
const CONFIG_FILE_IN_CONFIG_HOME: &str = "fulcrum/cli.toml";

/// Why the endpoint or credentials could not be settled, naming the flag,
/// variable or key, and the file.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A setting, or a combination of them, breaks a rule.
    #[error("{setting}: {rule}")]
    Invalid {
        /// `--cert`, `FULCRUM_TOKEN`, `ca in /home/a/.config/fulcrum/cli.toml`.
        setting: String,
        /// The rule.
        rule: String,
    },
    /// The CLI config file is not TOML of the known keys.
    #[error("cli config {}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        reason: String,
    },
    /// A file a setting names cannot be read.
    #[error("{setting} {}: {reason}", path.display())]
    File {
        /// The setting that names the file.
        setting: String,
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        reason: String,
    },
}

/// The process environment, as the variables the caller hands in.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    variables: BTreeMap<String, String>,
}

impl Environment {
    /// The environment of these `(name, value)` pairs.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            variables: vars.into_iter().collect(),
        }
    }

    /// A variable's value; empty counts as unset.
    fn get(&self, name: &str) -> Option<&str> {
        self.variables
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

/// The CLI config file to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigLocation {
    /// The file.
    pub path: PathBuf,
    /// The flag or variable that named it (then it must exist); `None` for
    /// the default path, read only when it exists.
    pub named_by: Option<&'static str>,
}

/// A CLI config file's path and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFile {
    /// Where it was read; relative paths in it are relative to its directory.
    pub path: PathBuf,
    /// Its contents.
    pub text: String,
}

/// A value and the flag, variable or config key that gave it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// `--ca`, `FULCRUM_CA`, `ca in /etc/fulcrum/cli.toml`.
    pub setting: String,
}

impl<T: fmt::Debug> fmt::Debug for Sourced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self.value, self.setting)
    }
}

/// Where the bearer token comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Token {
    /// Given as a value.
    Value(Sourced<String>),
    /// Read from a file.
    File(Sourced<PathBuf>),
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Value(token) => write!(f, "Value(<redacted> ({}))", token.setting),
            Token::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// The endpoint and the credential files, settled; nothing read yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// `host:port` or a URL; with a CA and no scheme it means `https://`.
    pub endpoint: String,
    /// The cluster CA.
    pub ca: Option<Sourced<PathBuf>>,
    /// The client's certificate and its private key.
    pub identity: Option<(Sourced<PathBuf>, Sourced<PathBuf>)>,
    /// The bearer token.
    pub token: Option<Token>,
}

impl Connection {
    /// Reads the files the settings name. Errors name the setting and path.
    pub fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let ca_pem = self.ca.as_ref().map(read_credential).transpose()?;
        let identity = match &self.identity {
            Some((certificate, key)) => {
                Some((read_credential(certificate)?, read_credential(key)?))
            }
            None => None,
        };
        let token = match &self.token {
            None => None,
            Some(Token::Value(token)) => Some(check_token(&token.setting, &token.value)?),
            Some(Token::File(path)) => {
                let text = read_credential(path)?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(CredentialsError::File {
                        setting: path.setting.clone(),
                        path: path.value.clone(),
                        reason: "holds no token".to_owned(),
                    });
                }
                Some(
                    check_token(&path.setting, token).map_err(|error| match error {
                        CredentialsError::Invalid { setting, rule } => CredentialsError::File {
                            setting,
                            path: path.value.clone(),
                            reason: rule,
                        },
                        other => other,
                    })?,
                )
            }
        };
        Ok(Credentials {
            ca_pem,
            identity,
            token,
        })
    }
}

/// The token, if the client would send it; the rule without the token.
fn check_token(setting: &str, token: &str) -> Result<String, CredentialsError> {
    Authorization::bearer(Some(token)).map_err(|error| CredentialsError::Invalid {
        setting: setting.to_owned(),
        rule: error.to_string(),
    })?;
    Ok(token.to_owned())
}

/// Settles the connection from the flags, the environment `vars` and the
/// CLI config file: the one entry point that reads the file system.
pub fn connection(
    flags: &ConnectionFlags,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Connection, CredentialsError> {
    let environment = Environment::from_vars(vars);
    let config = match config_location(flags, &environment)? {
        Some(location) => read_config(&location)?,
        None => None,
    };
    resolve(flags, &environment, config.as_ref())
}

/// Which CLI config file applies: `--cli-config`, else `FULCRUM_CLI_CONFIG`,
/// else the default under `$XDG_CONFIG_HOME` (when absolute) or `$HOME/.config`.
pub fn config_location(
    flags: &ConnectionFlags,
    environment: &Environment,
) -> Result<Option<ConfigLocation>, CredentialsError> {
    if let Some(path) = &flags.cli_config {
        if path.as_os_str().is_empty() {
            return Err(empty(CONFIG_FLAG));
        }
        return Ok(Some(ConfigLocation {
            path: path.clone(),
            named_by: Some(CONFIG_FLAG),
        }));
    }
    if let Some(path) = environment.get(CONFIG_VARIABLE) {
        return Ok(Some(ConfigLocation {
            path: PathBuf::from(path),
            named_by: Some(CONFIG_VARIABLE),
        }));
    }
    let config_home = environment
        .get("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| {
            environment
                .get("HOME")
                .map(|home| Path::new(home).join(".config"))
        });
    Ok(config_home.map(|home| ConfigLocation {
        path: home.join(CONFIG_FILE_IN_CONFIG_HOME),
        named_by: None,
    }))
}

/// Reads the CLI config file; a default one that does not exist is none.
pub fn read_config(location: &ConfigLocation) -> Result<Option<ConfigFile>, CredentialsError> {
    let setting = location.named_by.unwrap_or("cli config");
    match read_limited(&location.path, CONFIG_FILE_MAX_BYTES) {
        Ok(text) => Ok(Some(ConfigFile {
            path: location.path.clone(),
            text,
        })),
        Err(error) if location.named_by.is_none() && error.kind() == io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(error) => Err(CredentialsError::File {
            setting: setting.to_owned(),
            path: location.path.clone(),
            reason: error.to_string(),
        }),
    }
}

/// The settings, first source first: flags, environment, config file.
pub fn resolve(
    flags: &ConnectionFlags,
    environment: &Environment,
    config: Option<&ConfigFile>,
) -> Result<Connection, CredentialsError> {
    let mut layers = vec![Layer::flags(flags)?, Layer::environment(environment)];
    if let Some(config) = config {
        layers.push(Layer::file(config)?);
    }
    let endpoint = first(&layers, Setting::Endpoint, |layer| layer.endpoint.as_ref())
        .map_or_else(|| DEFAULT_ENDPOINT.to_owned(), |endpoint| endpoint.value);
    let ca = first(&layers, Setting::Ca, |layer| layer.ca.as_ref());
    let identity = match layers
        .iter()
        .find(|layer| layer.cert.is_some() || layer.key.is_some())
    {
        None => None,
        Some(layer) => match (&layer.cert, &layer.key) {
            (Some(certificate), Some(key)) => Some((
                layer.sourced(Setting::Cert, certificate.clone()),
                layer.sourced(Setting::Key, key.clone()),
            )),
            (given, _) => {
                let (present, missing) = if given.is_some() {
                    (Setting::Cert, Setting::Key)
                } else {
                    (Setting::Key, Setting::Cert)
                };
                return Err(CredentialsError::Invalid {
                    setting: layer.name(present),
                    rule: format!(
                        "is given without {}: a client certificate and its key go together",
                        layer.name(missing)
                    ),
                });
            }
        },
    };
    let token = match layers
        .iter()
        .find(|layer| layer.token.is_some() || layer.token_file.is_some())
    {
        None => None,
        Some(layer) => match (&layer.token, &layer.token_file) {
            (Some(_), Some(_)) => {
                return Err(CredentialsError::Invalid {
                    setting: format!(
                        "{} and {}",
                        layer.name(Setting::Token),
                        layer.name(Setting::TokenFile)
                    ),
                    rule: "give one or the other".to_owned(),
                });
            }
            (Some(token), None) => Some(Token::Value(layer.sourced(Setting::Token, token.clone()))),
            (None, Some(path)) => {
                Some(Token::File(layer.sourced(Setting::TokenFile, path.clone())))
            }
            (None, None) => None,
        },
    };
    Ok(Connection {
        endpoint,
        ca,
        identity,
        token,
    })
}

/// The settings a source can give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setting {
    Endpoint,
    Ca,
    Cert,
    Key,
    Token,
    TokenFile,
}

impl Setting {
    fn flag(self) -> &'static str {
        match self {
            Setting::Endpoint => "--endpoint",
            Setting::Ca => "--ca",
            Setting::Cert => "--cert",
            Setting::Key => "--key",
            Setting::Token => "--token",
            Setting::TokenFile => "--token-file",
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Setting::Endpoint => "FULCRUM_ENDPOINT",
            Setting::Ca => "FULCRUM_CA",
            Setting::Cert => "FULCRUM_CERT",
            Setting::Key => "FULCRUM_KEY",
            Setting::Token => "FULCRUM_TOKEN",
            Setting::TokenFile => "FULCRUM_TOKEN_FILE",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Setting::Endpoint => "endpoint",
            Setting::Ca => "ca",
            Setting::Cert => "cert",
            Setting::Key => "key",
            Setting::Token => "token",
            Setting::TokenFile => "token_file",
        }
    }
}

/// Where a layer's values come from.
#[derive(Clone, Debug)]
enum Source {
    Flags,
    Environment,
    File(PathBuf),
}

/// One source's values.
#[derive(Debug)]
struct Layer {
    source: Source,
    endpoint: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

/// The CLI config file: every key optional, no other key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKeys {
    endpoint: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

impl Layer {
    fn empty(source: Source) -> Self {
        Self {
            source,
            endpoint: None,
            ca: None,
            cert: None,
            key: None,
            token: None,
            token_file: None,
        }
    }

    /// The flags; an empty value is refused.
    fn flags(flags: &ConnectionFlags) -> Result<Self, CredentialsError> {
        let layer = Self {
            source: Source::Flags,
            endpoint: flags.endpoint.clone(),
            ca: flags.ca.clone(),
            cert: flags.cert.clone(),
            key: flags.key.clone(),
            token: flags.token.as_ref().map(|token| token.0.clone()),
            token_file: flags.token_file.clone(),
        };
        layer.refuse_empty()?;
        Ok(layer)
    }

    /// The environment; an empty variable is unset.
    fn environment(environment: &Environment) -> Self {
        let text = |setting: Setting| environment.get(setting.variable()).map(str::to_owned);
        let path = |setting: Setting| text(setting).map(PathBuf::from);
        Self {
            source: Source::Environment,
            endpoint: text(Setting::Endpoint),
            ca: path(Setting::Ca),
            cert: path(Setting::Cert),
            key: path(Setting::Key),
            token: text(Setting::Token),
            token_file: path(Setting::TokenFile),
        }
    }

    /// The config file: known keys only, paths relative to its directory.
    fn file(config: &ConfigFile) -> Result<Self, CredentialsError> {
        let keys: FileKeys =
            toml::from_str(&config.text).map_err(|error| CredentialsError::Config {
                path: config.path.clone(),
                reason: error.message().to_owned(),
            })?;
        let directory = config.path.parent().unwrap_or(Path::new(""));
        let path = |path: Option<PathBuf>| {
            path.map(|path| {
                if path.as_os_str().is_empty() {
                    path
                } else {
                    directory.join(path)
                }
            })
        };
        let layer = Self {
            endpoint: keys.endpoint,
            ca: path(keys.ca),
            cert: path(keys.cert),
            key: path(keys.key),
            token: keys.token,
            token_file: path(keys.token_file),
            ..Self::empty(Source::File(config.path.clone()))
        };
        layer.refuse_empty()?;
        Ok(layer)
    }

    fn refuse_empty(&self) -> Result<(), CredentialsError> {
        let texts = [
            (Setting::Endpoint, self.endpoint.as_deref()),
            (Setting::Token, self.token.as_deref()),
        ];
        let paths = [
            (Setting::Ca, &self.ca),
            (Setting::Cert, &self.cert),
            (Setting::Key, &self.key),
            (Setting::TokenFile, &self.token_file),
        ];
        let empty_text = texts
            .into_iter()
            .find(|(_, value)| value.is_some_and(|value| value.trim().is_empty()));
        let empty_path = paths.into_iter().find(|(_, value)| {
            value
                .as_ref()
                .is_some_and(|path| path.as_os_str().is_empty())
        });
        match empty_text
            .map(|(setting, _)| setting)
            .or(empty_path.map(|(setting, _)| setting))
        {
            Some(setting) => Err(empty(&self.name(setting))),
            None => Ok(()),
        }
    }

    /// How this source names `setting`.
    fn name(&self, setting: Setting) -> String {
        match &self.source {
            Source::Flags => setting.flag().to_owned(),
            Source::Environment => setting.variable().to_owned(),
            Source::File(path) => format!("{} in {}", setting.key(), path.display()),
        }
    }

    fn sourced<T>(&self, setting: Setting, value: T) -> Sourced<T> {
        Sourced {
            value,
            setting: self.name(setting),
        }
    }
}

/// The first layer's value of a setting, with its name.
fn first<T: Clone>(
    layers: &[Layer],
    setting: Setting,
    get: impl Fn(&Layer) -> Option<&T>,
) -> Option<Sourced<T>> {
    layers
        .iter()
        .find_map(|layer| get(layer).map(|value| layer.sourced(setting, value.clone())))
}

fn empty(setting: &str) -> CredentialsError {
    CredentialsError::Invalid {
        setting: setting.to_owned(),
        rule: "must not be empty".to_owned(),
    }
}

/// Reads a credential file of at most [`CREDENTIAL_FILE_MAX_BYTES`].
fn read_credential(path: &Sourced<PathBuf>) -> Result<String, CredentialsError> {
    read_limited(&path.value, CREDENTIAL_FILE_MAX_BYTES).map_err(|error| CredentialsError::File {
        setting: path.setting.clone(),
        path: path.value.clone(),
        reason: error.to_string(),
    })
}

/// A UTF-8 file of at most `max_bytes`.
fn read_limited(path: &Path, max_bytes: u64) -> io::Result<String> {
    let mut text = String::new();
    File::open(path)?
        .take(max_bytes + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max_bytes} bytes"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Secret;

    const FILE: &str = "/home/a/.config/fulcrum/cli.toml";

    fn environment(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        )
    }

    fn file(text: &str) -> ConfigFile {
        ConfigFile {
            path: PathBuf::from(FILE),
            text: text.to_owned(),
        }
    }

    fn sourced<T>(value: T, setting: &str) -> Sourced<T> {
        Sourced {
            value,
            setting: setting.to_owned(),
        }
    }

    fn path(value: &str, setting: &str) -> Sourced<PathBuf> {
        sourced(PathBuf::from(value), setting)
    }

    /// Resolves, and compares with the connection or the error's message.
    fn check(
        flags: &ConnectionFlags,
        vars: &[(&str, &str)],
        config: Option<&str>,
        expected: Result<Connection, &str>,
    ) {
        let config = config.map(file);
        let actual =
            resolve(flags, &environment(vars), config.as_ref()).map_err(|error| error.to_string());
        assert_eq!(
            actual,
            expected.map_err(str::to_owned),
            "{flags:?} {vars:?} {config:?}"
        );
    }

    fn plain(endpoint: &str) -> Connection {
        Connection {
            endpoint: endpoint.to_owned(),
            ca: None,
            identity: None,
            token: None,
        }
    }

    #[test]
    fn the_endpoint_is_the_flag_then_the_environment_then_the_file_then_the_default() {
        let flag = ConnectionFlags {
            endpoint: Some("flag:1".to_owned()),
            ..ConnectionFlags::default()
        };
        let none = ConnectionFlags::default();
        let env = [("FULCRUM_ENDPOINT", "env:1")];
        let text = Some("endpoint = \"file:1\"\n");
        check(&none, &[], None, Ok(plain(DEFAULT_ENDPOINT)));
        check(&none, &[], Some(""), Ok(plain(DEFAULT_ENDPOINT)));
        check(&none, &[], text, Ok(plain("file:1")));
        check(&none, &env, text, Ok(plain("env:1")));
        check(&flag, &env, text, Ok(plain("flag:1")));
        // An empty variable is unset.
        check(
            &none,
            &[("FULCRUM_ENDPOINT", "")],
            text,
            Ok(plain("file:1")),
        );
    }

    #[test]
    fn each_source_names_its_settings() {
        let none = ConnectionFlags::default();
        let from_file =
            "ca = \"ca.crt\"\ncert = \"/etc/c.crt\"\nkey = \"c.key\"\ntoken_file = \"t\"\n";
        check(
            &none,
            &[],
            Some(from_file),
            Ok(Connection {
                endpoint: DEFAULT_ENDPOINT.to_owned(),
                ca: Some(path(
                    "/home/a/.config/fulcrum/ca.crt",
                    &format!("ca in {FILE}"),
                )),
                identity: Some((
                    path("/etc/c.crt", &format!("cert in {FILE}")),
                    path("/home/a/.config/fulcrum/c.key", &format!("key in {FILE}")),
                )),
                token: Some(Token::File(path(
                    "/home/a/.config/fulcrum/t",
                    &format!("token_file in {FILE}"),
                ))),
            }),
        );
        let env = [
            ("FULCRUM_CA", "e.ca"),
            ("FULCRUM_CERT", "e.crt"),
            ("FULCRUM_KEY", "e.key"),
            ("FULCRUM_TOKEN", "env-token"),
        ];
        check(
            &none,
            &env,
            Some(from_file),
            Ok(Connection {
                endpoint: DEFAULT_ENDPOINT.to_owned(),
                ca: Some(path("e.ca", "FULCRUM_CA")),
                identity: Some((path("e.crt", "FULCRUM_CERT"), path("e.key", "FULCRUM_KEY"))),
                token: Some(Token::Value(sourced(
                    "env-token".to_owned(),
                    "FULCRUM_TOKEN",
                ))),
            }),
        );
        let flags = ConnectionFlags {
            ca: Some("f.ca".into()),
            cert: Some("f.crt".into()),
            key: Some("f.key".into()),
            token_file: Some("f.token".into()),
            ..ConnectionFlags::default()
        };
        check(
            &flags,
            &env,
            Some(from_file),
            Ok(Connection {
                endpoint: DEFAULT_ENDPOINT.to_owned(),
                ca: Some(path("f.ca", "--ca")),
                identity: Some((path("f.crt", "--cert"), path("f.key", "--key"))),
                // --token-file outranks FULCRUM_TOKEN: the pair goes together.
                token: Some(Token::File(path("f.token", "--token-file"))),
            }),
        );
    }

    #[test]
    fn a_certificate_and_its_key_come_from_one_source() {
        let cert_only = ConnectionFlags {
            cert: Some("c.crt".into()),
            ..ConnectionFlags::default()
        };
        let key_only = ConnectionFlags {
            key: Some("c.key".into()),
            ..ConnectionFlags::default()
        };
        let both_env = [("FULCRUM_CERT", "e.crt"), ("FULCRUM_KEY", "e.key")];
        let rule = "a client certificate and its key go together";
        // The flag's half does not pair with the environment's.
        check(
            &cert_only,
            &both_env,
            None,
            Err(&format!("--cert: is given without --key: {rule}")),
        );
        check(
            &key_only,
            &[],
            None,
            Err(&format!("--key: is given without --cert: {rule}")),
        );
        check(
            &ConnectionFlags::default(),
            &[("FULCRUM_KEY", "e.key")],
            None,
            Err(&format!(
                "FULCRUM_KEY: is given without FULCRUM_CERT: {rule}"
            )),
        );
        check(
            &ConnectionFlags::default(),
            &[],
            Some("cert = \"c.crt\""),
            Err(&format!(
                "cert in {FILE}: is given without key in {FILE}: {rule}"
            )),
        );
    }

    #[test]
    fn a_token_and_a_token_file_are_one_or_the_other() {
        let both = ConnectionFlags {
            token: Some(Secret("t".to_owned())),
            token_file: Some("t.file".into()),
            ..ConnectionFlags::default()
        };
        check(
            &both,
            &[],
            None,
            Err("--token and --token-file: give one or the other"),
        );
        check(
            &ConnectionFlags::default(),
            &[("FULCRUM_TOKEN", "t"), ("FULCRUM_TOKEN_FILE", "f")],
            None,
            Err("FULCRUM_TOKEN and FULCRUM_TOKEN_FILE: give one or the other"),
        );
        let token = ConnectionFlags {
            token: Some(Secret("flag-token".to_owned())),
            ..ConnectionFlags::default()
        };
        check(
            &token,
            &[("FULCRUM_TOKEN_FILE", "f")],
            Some("token = \"file-token\"\ntoken_file = \"x\""),
            Ok(Connection {
                token: Some(Token::Value(sourced("flag-token".to_owned(), "--token"))),
                ..plain(DEFAULT_ENDPOINT)
            }),
        );
    }

    #[test]
    fn the_config_file_takes_known_keys_only() {
        let none = ConnectionFlags::default();
        let actual = resolve(&none, &environment(&[]), Some(&file("colour = \"red\"\n")))
            .unwrap_err()
            .to_string();
        assert!(
            actual.starts_with(&format!("cli config {FILE}: unknown field `colour`")),
            "{actual}"
        );
        let actual = resolve(&none, &environment(&[]), Some(&file("ca = 7\n")))
            .unwrap_err()
            .to_string();
        assert!(
            actual.starts_with(&format!("cli config {FILE}: ")),
            "{actual}"
        );
        check(
            &none,
            &[],
            Some("ca = \"\""),
            Err(&format!("ca in {FILE}: must not be empty")),
        );
    }

    #[test]
    fn empty_flags_are_refused() {
        let cases = [
            (
                ConnectionFlags {
                    ca: Some(PathBuf::new()),
                    ..ConnectionFlags::default()
                },
                "--ca: must not be empty",
            ),
            (
                ConnectionFlags {
                    token: Some(Secret(" ".to_owned())),
                    ..ConnectionFlags::default()
                },
                "--token: must not be empty",
            ),
            (
                ConnectionFlags {
                    endpoint: Some(String::new()),
                    ..ConnectionFlags::default()
                },
                "--endpoint: must not be empty",
            ),
        ];
        for (flags, expected) in cases {
            check(&flags, &[], None, Err(expected));
        }
    }

    #[test]
    fn the_config_file_is_the_flag_then_the_variable_then_the_default() {
        let location = |flags: &ConnectionFlags, vars: &[(&str, &str)]| {
            config_location(flags, &environment(vars)).map_err(|error| error.to_string())
        };
        let at = |path: &str, named_by: Option<&'static str>| {
            Ok(Some(ConfigLocation {
                path: PathBuf::from(path),
                named_by,
            }))
        };
        let none = ConnectionFlags::default();
        let flag = ConnectionFlags {
            cli_config: Some("/flag.toml".into()),
            ..ConnectionFlags::default()
        };
        let all = [
            ("FULCRUM_CLI_CONFIG", "/env.toml"),
            ("XDG_CONFIG_HOME", "/xdg"),
            ("HOME", "/home/a"),
        ];
        assert_eq!(
            location(&flag, &all),
            at("/flag.toml", Some("--cli-config"))
        );
        assert_eq!(
            location(&none, &all),
            at("/env.toml", Some("FULCRUM_CLI_CONFIG"))
        );
        assert_eq!(
            location(&none, &all[1..]),
            at("/xdg/fulcrum/cli.toml", None)
        );
        assert_eq!(
            location(&none, &all[2..]),
            at("/home/a/.config/fulcrum/cli.toml", None)
        );
        // A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
        assert_eq!(
            location(&none, &[("XDG_CONFIG_HOME", "rel"), ("HOME", "/h")]),
            at("/h/.config/fulcrum/cli.toml", None)
        );
        assert_eq!(location(&none, &[]), Ok(None));
        let empty = ConnectionFlags {
            cli_config: Some(PathBuf::new()),
            ..ConnectionFlags::default()
        };
        assert_eq!(
            location(&empty, &all),
            Err("--cli-config: must not be empty".to_owned())
        );
    }

    #[test]
    fn a_named_config_file_must_exist_and_the_default_may_not() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("missing.toml");
        let named = ConfigLocation {
            path: missing.clone(),
            named_by: Some("FULCRUM_CLI_CONFIG"),
        };
        let error = read_config(&named).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("FULCRUM_CLI_CONFIG {}: ", missing.display())),
            "{error}"
        );
        let default = ConfigLocation {
            path: missing,
            named_by: None,
        };
        assert_eq!(read_config(&default).unwrap(), None);
        let present = directory.path().join("cli.toml");
        std::fs::write(&present, "endpoint = \"e:1\"\n").unwrap();
        let read = read_config(&ConfigLocation {
            path: present.clone(),
            named_by: None,
        })
        .unwrap();
        assert_eq!(
            read,
            Some(ConfigFile {
                path: present,
                text: "endpoint = \"e:1\"\n".to_owned()
            })
        );
    }

    #[test]
    fn credentials_are_read_at_connect_and_errors_name_the_setting_and_path() {
        let directory = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = directory.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca = write("ca.crt", "CA PEM");
        let token = write("token", "  s3cret\n");
        let connection = Connection {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            ca: Some(sourced(ca, "--ca")),
            identity: Some((
                sourced(write("c.crt", "CERT PEM"), "--cert"),
                sourced(write("c.key", "KEY PEM"), "--key"),
            )),
            token: Some(Token::File(sourced(token, "FULCRUM_TOKEN_FILE"))),
        };
        assert_eq!(
            connection.credentials().unwrap(),
            Credentials {
                ca_pem: Some("CA PEM".to_owned()),
                identity: Some(("CERT PEM".to_owned(), "KEY PEM".to_owned())),
                token: Some("s3cret".to_owned()),
            }
        );

        let missing = directory.path().join("nope.crt");
        let broken = Connection {
            ca: Some(sourced(missing.clone(), "ca in /x/cli.toml")),
            ..connection.clone()
        };
        let error = broken.credentials().unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("ca in /x/cli.toml {}: ", missing.display())),
            "{error}"
        );

        let blank = write("blank", "\n\n");
        let no_token = Connection {
            token: Some(Token::File(sourced(blank.clone(), "--token-file"))),
            ..connection.clone()
        };
        assert_eq!(
            no_token.credentials().unwrap_err().to_string(),
            format!("--token-file {}: holds no token", blank.display())
        );

        let spaced = Connection {
            token: Some(Token::Value(sourced(
                "two words".to_owned(),
                "FULCRUM_TOKEN",
            ))),
            ..connection.clone()
        };
        let error = spaced.credentials().unwrap_err().to_string();
        assert!(error.starts_with("FULCRUM_TOKEN: must be 1 to"), "{error}");
        assert!(!error.contains("two words"), "{error}");

        let large = write(
            "large",
            &"x".repeat(usize::try_from(CREDENTIAL_FILE_MAX_BYTES).unwrap() + 1),
        );
        let too_large = Connection {
            ca: Some(sourced(large, "--ca")),
            ..connection
        };
        let error = too_large.credentials().unwrap_err().to_string();
        assert!(error.ends_with("larger than 1048576 bytes"), "{error}");
    }

    #[test]
    fn debug_hides_the_token() {
        let connection = Connection {
            token: Some(Token::Value(sourced("s3cret".to_owned(), "--token"))),
            ..plain(DEFAULT_ENDPOINT)
        };
        let flags = ConnectionFlags {
            token: Some(Secret("s3cret".to_owned())),
            ..ConnectionFlags::default()
        };
        for shown in [format!("{connection:?}"), format!("{flags:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }
}
