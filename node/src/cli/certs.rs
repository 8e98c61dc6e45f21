//! `fulcrum certs`: the cluster CA and the node and client certificates it
//! signs, and the cluster's data key, as files in one directory, made and
//! read with `fulcrum-pki`. No node is involved.
//!
//! Every file is written mode 0600 by [`fulcrum_pki::write_private`]; an
//! existing file is refused unless `--overwrite`, and no file of a pair is
//! written when either exists. The directory is created mode 0700 when
//! absent. A bad argument exits 64 naming its flag.

use std::fs::{self, DirBuilder};
use std::io::{self, Read as _};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use fulcrum_pki::{
    Authority, CaOptions, ClientOptions, Description, NodeOptions, Pem, PkiError, Role,
};
use serde_json::json;

use super::args::CertsCommand;
use super::output::Format;
use super::{CliError, EXIT_FAILURE, EXIT_USAGE};
use crate::resources::text::fields;

/// The CA's files in the directory, without extension.
const CA_STEM: &str = "ca";
/// A client certificate's files are `client.PRINCIPAL.*` unless named.
const CLIENT_STEM_PREFIX: &str = "client.";
/// The extensions of a certificate and of its private key.
const CERTIFICATE_EXTENSION: &str = "crt";
const KEY_EXTENSION: &str = "key";
/// The data key's file in the directory (`--data-key-file` on every node).
const DATA_KEY_FILE: &str = "data.key";
/// The mode of a directory this command creates.
const DIRECTORY_MODE: u32 = 0o700;
/// The largest PEM file read (a CA, its key, a bundle to show).
pub const PEM_FILE_MAX_BYTES: u64 = 1 << 20;

/// Runs a `fulcrum certs` command, printing in `format`.
pub fn run(command: &CertsCommand, format: Format) -> Result<(), CliError> {
    match command {
        CertsCommand::CreateCa {
            dir,
            name,
            validity_days,
            overwrite,
        } => {
            let pem = fulcrum_pki::create_ca(&CaOptions {
                name: name.clone(),
                validity_days: *validity_days,
            })
            .map_err(pki_error)?;
            let written = write_pair(dir, CA_STEM, &pem, *overwrite)?;
            print_written(format, &written);
        }
        CertsCommand::IssueNode {
            dir,
            name,
            hosts,
            validity_days,
            out_name,
            overwrite,
        } => {
            check_name("--name", name)?;
            let stem = out_name.as_deref().unwrap_or(name);
            check_name("--out-name", stem)?;
            let authority = load_authority(dir)?;
            let pem = authority
                .issue_node(&NodeOptions {
                    name: name.clone(),
                    hosts: hosts.clone(),
                    validity_days: *validity_days,
                })
                .map_err(pki_error)?;
            let written = write_pair(dir, stem, &pem, *overwrite)?;
            print_written(format, &written);
        }
        CertsCommand::IssueClient {
            dir,
            principal,
            role,
            validity_days,
            out_name,
            overwrite,
        } => {
            check_name("--principal", principal)?;
            let role: Role = role.parse().map_err(pki_error)?;
            let stem = match out_name {
                Some(stem) => stem.clone(),
                None => format!("{CLIENT_STEM_PREFIX}{principal}"),
            };
            check_name("--out-name", &stem)?;
            let authority = load_authority(dir)?;
            let pem = authority
                .issue_client(&ClientOptions {
                    principal: principal.clone(),
                    role,
                    validity_days: *validity_days,
                })
                .map_err(pki_error)?;
            let written = write_pair(dir, &stem, &pem, *overwrite)?;
            print_written(format, &written);
        }
        CertsCommand::CreateDataKey { dir, overwrite } => {
            create_directory(dir)?;
            let path = dir.join(DATA_KEY_FILE);
            let text = crate::secrets::new_key_file().map_err(|error| CliError {
                message: error.to_string(),
                code: EXIT_FAILURE,
            })?;
            fulcrum_pki::write_private(&path, &text, *overwrite).map_err(pki_error)?;
            let path = path.display().to_string();
            super::print_in(
                format,
                || fields(&[("DATA KEY", path.clone())]),
                || json!({ "data_key": path }),
            );
        }
        CertsCommand::Show { file } => {
            let pem = read_pem(file).map_err(|error| CliError {
                message: format!("{}: cannot read: {error}", file.display()),
                code: EXIT_USAGE,
            })?;
            let descriptions = fulcrum_pki::describe(&pem).map_err(|error| CliError {
                message: format!("{}: {error}", file.display()),
                code: EXIT_FAILURE,
            })?;
            super::print_in(
                format,
                || {
                    descriptions
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                || json!({ "certificates": descriptions.iter().map(description_json).collect::<Vec<_>>() }),
            );
        }
    }
    Ok(())
}

/// A file name stem follows the principal rule, so it never holds `/` or
/// starts with `.`.
fn check_name(flag: &str, value: &str) -> Result<(), CliError> {
    fulcrum_pki::check_principal(value).map_err(|error| match error {
        PkiError::Invalid { value, rule, .. } => CliError::usage(format!("{flag}: {value} {rule}")),
        other => pki_error(other),
    })
}

/// The CA of `dir`: `ca.crt` and `ca.key`.
fn load_authority(dir: &Path) -> Result<Authority, CliError> {
    let certificate_path = file_path(dir, CA_STEM, CERTIFICATE_EXTENSION);
    let key_path = file_path(dir, CA_STEM, KEY_EXTENSION);
    let read = |path: &Path| {
        read_pem(path).map_err(|error| {
            let hint = if error.kind() == io::ErrorKind::NotFound {
                format!(
                    " (`fulcrum certs create-ca --dir {}` makes the CA)",
                    dir.display()
                )
            } else {
                String::new()
            };
            CliError::usage(format!(
                "--dir: cannot read {}: {error}{hint}",
                path.display()
            ))
        })
    };
    let certificate = read(&certificate_path)?;
    let key = read(&key_path)?;
    Authority::from_pem(&certificate, &key).map_err(|error| CliError {
        message: format!(
            "{} and {}: {error}",
            certificate_path.display(),
            key_path.display()
        ),
        code: EXIT_FAILURE,
    })
}

/// The paths a command wrote.
struct Written {
    certificate: PathBuf,
    private_key: PathBuf,
}

/// Writes `STEM.crt` and `STEM.key` in `dir` (created 0700 when absent),
/// each 0600: both or, without `overwrite`, neither when either exists.
fn write_pair(dir: &Path, stem: &str, pem: &Pem, overwrite: bool) -> Result<Written, CliError> {
    create_directory(dir)?;
    let certificate = file_path(dir, stem, CERTIFICATE_EXTENSION);
    let private_key = file_path(dir, stem, KEY_EXTENSION);
    if !overwrite {
        for path in [&certificate, &private_key] {
            if path.symlink_metadata().is_ok() {
                return Err(pki_error(PkiError::Exists { path: path.clone() }));
            }
        }
    }
    fulcrum_pki::write_private(&private_key, &pem.private_key, overwrite).map_err(pki_error)?;
    if let Err(error) = fulcrum_pki::write_private(&certificate, &pem.certificate, overwrite) {
        if !overwrite {
            // A key without its certificate would block the retry.
            let _ = fs::remove_file(&private_key);
        }
        return Err(pki_error(error));
    }
    Ok(Written {
        certificate,
        private_key,
    })
}

/// Creates `dir` (mode 0700) when absent.
fn create_directory(dir: &Path) -> Result<(), CliError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIRECTORY_MODE)
        .create(dir)
        .map_err(|error| CliError {
            message: format!("--dir {}: cannot create: {error}", dir.display()),
            code: EXIT_FAILURE,
        })
}

fn file_path(dir: &Path, stem: &str, extension: &str) -> PathBuf {
    dir.join(format!("{stem}.{extension}"))
}

fn print_written(format: Format, written: &Written) {
    let certificate = written.certificate.display().to_string();
    let private_key = written.private_key.display().to_string();
    super::print_in(
        format,
        || {
            fields(&[
                ("CERTIFICATE", certificate.clone()),
                ("PRIVATE KEY", private_key.clone()),
            ])
        },
        || json!({ "certificate": certificate, "private_key": private_key }),
    );
}

fn description_json(description: &Description) -> serde_json::Value {
    json!({
        "subject": description.subject,
        "issuer": description.issuer,
        "principal": description.principal,
        "role": description.role.map(Role::as_str),
        "is_ca": description.is_ca,
        "subject_alt_names": description.subject_alt_names,
        "not_before": description.not_before,
        "not_after": description.not_after,
        "serial": description.serial,
        "sha256_fingerprint": description.sha256_fingerprint,
        "key_usages": description.key_usages,
        "extended_key_usages": description.extended_key_usages,
    })
}

/// A PEM file of at most [`PEM_FILE_MAX_BYTES`].
fn read_pem(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    fs::File::open(path)?
        .take(PEM_FILE_MAX_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > PEM_FILE_MAX_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {PEM_FILE_MAX_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// A refused argument exits 64 naming its flag; anything else exits 1.
fn pki_error(error: PkiError) -> CliError {
    match error {
        PkiError::Invalid { field, value, rule } => {
            CliError::usage(format!("{}: {value} {rule}", flag_of(&field)))
        }
        PkiError::Exists { .. } => CliError {
            message: format!("{error}; --overwrite replaces it"),
            code: EXIT_FAILURE,
        },
        other => CliError {
            message: other.to_string(),
            code: EXIT_FAILURE,
        },
    }
}

/// The flag of a field `fulcrum-pki` names.
fn flag_of(field: &str) -> String {
    match field {
        "name" => "--name".to_owned(),
        "principal" => "--principal".to_owned(),
        "role" => "--role".to_owned(),
        "validity_days" => "--validity-days".to_owned(),
        hosts if hosts.starts_with("hosts") => "--host".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_flags() {
        for (field, flag) in [
            ("name", "--name"),
            ("principal", "--principal"),
            ("role", "--role"),
            ("validity_days", "--validity-days"),
            ("hosts", "--host"),
            ("hosts[3]", "--host"),
        ] {
            assert_eq!(flag_of(field), flag);
        }
    }

    #[test]
    fn roles_are_refused_by_flag() {
        let error = pki_error("root".parse::<Role>().unwrap_err());
        assert_eq!(error.code, EXIT_USAGE);
        assert!(
            error.message.starts_with("--role: \"root\""),
            "{}",
            error.message
        );
    }

    #[test]
    fn stems_are_file_names() {
        assert!(check_name("--out-name", "client.alice@example.com").is_ok());
        for bad in ["../ca", "a/b", ".hidden", ""] {
            let error = check_name("--out-name", bad).unwrap_err();
            assert_eq!(error.code, EXIT_USAGE, "{bad}");
            assert!(
                error.message.starts_with("--out-name: "),
                "{}",
                error.message
            );
        }
    }
}
