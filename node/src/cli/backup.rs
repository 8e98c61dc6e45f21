//! `fulcrum backup`: write a consistent copy of the state to a file, and
//! check one.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use fulcrum_api::v1;
use fulcrum_raft_store::backup;
use sha2::{Digest, Sha256};

use super::args::BackupCommand;
use super::output::{self, Format};
use super::{CliError, Outcome, Session, print_in};
use crate::resources::text::fields;

/// Backup files are readable by their owner only: they hold every token
/// hash and sealed certificate key of the cluster.
const BACKUP_FILE_MODE: u32 = 0o600;

pub(super) async fn backup(session: &Session, command: BackupCommand) -> Outcome {
    match command {
        BackupCommand::Create { file, overwrite } => create(session, &file, overwrite).await,
        BackupCommand::Show { file } => show(&file, session.format),
    }
}

/// Streams the backup into `FILE.partial`, checks it against its header,
/// makes it durable, then renames it to `file`.
async fn create(session: &Session, file: &Path, overwrite: bool) -> Outcome {
    if file.exists() && !overwrite {
        return Err(CliError::usage(format!(
            "{} exists: choose another file, or pass --overwrite",
            file.display()
        )));
    }
    let partial = file.with_extension("partial");
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        CliError::failed(format!("{what} {}: {error}", partial.display()))
    };
    let mut answers = session
        .client
        .cluster()
        .create_backup(session.request(v1::CreateBackupRequest {}))
        .await?
        .into_inner();
    let header = match answers.message().await?.and_then(|answer| answer.part) {
        Some(v1::create_backup_response::Part::Header(header)) => header,
        _ => {
            return Err(CliError::failed(
                "the backup did not start with its header".to_owned(),
            ));
        }
    };
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(BACKUP_FILE_MODE)
        .open(&partial)
        .map_err(|error| failed("cannot create", &error))?;
    let written = async {
        backup::write_header(&mut output, &header).map_err(|error| failed("cannot write", &error))?;
        let mut digest = Sha256::new();
        let mut count = 0u64;
        while let Some(answer) = answers.message().await? {
            let Some(v1::create_backup_response::Part::Data(chunk)) = answer.part else {
                return Err(CliError::failed("the backup sent a second header".to_owned()));
            };
            digest.update(&chunk);
            count += chunk.len() as u64;
            output
                .write_all(&chunk)
                .map_err(|error| failed("cannot write", &error))?;
        }
        if count != header.state_bytes || digest.finalize().as_slice() != header.state_sha256.as_slice() {
            return Err(CliError::failed(format!(
                "the backup's bytes ({count}) do not match its header ({} bytes and their SHA-256): not written",
                header.state_bytes
            )));
        }
        output.sync_all().map_err(|error| failed("cannot sync", &error))?;
        Ok(())
    }
    .await;
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, file).map_err(|error| failed("cannot rename", &error))?;
    if let Some(directory) = file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| failed("cannot sync the directory of", &error))?;
    }
    session.print(
        || format!("{}written to {}\n", header_text(&header), file.display()),
        || output::json(&header, "fulcrum.v1.BackupHeader"),
    );
    Ok(())
}

/// `backup show`: reads and checks `file` whole, then prints its header.
pub(super) fn show(file: &Path, format: Format) -> Outcome {
    let (header, _) = backup::read(file).map_err(|error| CliError::failed(error.to_string()))?;
    print_in(
        format,
        || header_text(&header),
        || output::json(&header, "fulcrum.v1.BackupHeader"),
    );
    Ok(())
}

fn header_text(header: &v1::BackupHeader) -> String {
    let sha256: String = header
        .state_sha256
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    fields(&[
        ("LOG INDEX", header.log_index.to_string()),
        ("CLUSTER", header.cluster_id.clone()),
        ("TAKEN BY NODE", header.node_id.to_string()),
        ("TAKEN AT (UNIX MS)", header.created_at_unix_ms.to_string()),
        ("STATE BYTES", header.state_bytes.to_string()),
        ("STATE SHA-256", sha256),
        ("LOG FORMAT", header.log_format_version.to_string()),
    ])
}
