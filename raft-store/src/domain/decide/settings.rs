//! The rules for the cluster settings: their own revision, and an EIP pool
//! that keeps every allocated EIP.

use super::Context;
use crate::domain::catalog::Catalog;
use crate::domain::command::UpdateSettings;
use crate::domain::event::Event;
use crate::domain::model::Settings;
use crate::domain::rejection::Rejection;

pub(super) fn update_settings(
    catalog: &Catalog,
    settings: &Settings,
    context: &Context,
    update: &UpdateSettings,
) -> Result<Vec<Event>, Rejection> {
    if let Some(expected) = update.expected_revision
        && expected != settings.revision
    {
        return Err(Rejection::aborted(
            "cluster settings",
            "",
            expected,
            settings.revision,
        ));
    }
    let mut settings = settings.clone();
    if let Some(pool) = &update.eip_pool {
        if let Some(stranded) = catalog
            .eips
            .values()
            .find(|eip| !pool.iter().any(|cidr| cidr.contains(&eip.address)))
        {
            return Err(Rejection::precondition(
                Some("eip_pool"),
                format!(
                    "EIP {} ({}) would fall outside the new pool; release it first",
                    stranded.id, stranded.address
                ),
            ));
        }
        settings.eip_pool.clone_from(pool);
    }
    if let Some(quotas) = &update.quotas {
        settings.quotas = quotas.applied_to(&settings.quotas);
    }
    if let Some(retention) = update.client_token_retention_ms {
        settings.client_token_retention_ms = retention;
    }
    if let Some(capacity) = update.client_token_capacity {
        settings.client_token_capacity = capacity;
    }
    if let Some(retention) = update.history_retention_revisions {
        settings.history_retention_revisions = retention;
    }
    settings.revision = context.revision;
    Ok(vec![Event::SettingsUpdated(settings)])
}
