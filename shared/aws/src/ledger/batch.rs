//! Many hop records at once: BatchGetItem, 100 keys a call (the reconciler's tag repair reads a
//! page's records together instead of one GetItem a point).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::KeysAndAttributes;
use relay_core::ledger::{HopKey, HopRecord};
use relay_core::ports::{ErrorKind, LedgerPort, PortError, PortResult};

use super::{record_from_item, s, DynamoLedger, Item};
use crate::errors::classify;

/// BatchGetItem's most keys a call.
const BATCH_GET_KEYS: usize = 100;
/// Calls for one batch's keys before those still unprocessed are read one by one.
const BATCH_GET_ATTEMPTS: u32 = 3;

fn str_of(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

impl DynamoLedger {
    /// BatchGetItem, 100 keys a call, strongly consistent like `get`. Keys DynamoDB leaves
    /// unprocessed (its own throttling) are asked again after a short wait, then read one by one
    /// with GetItem, as is an item that cannot be read (its own error, not the batch's).
    pub(super) async fn records(&self, hops: &[HopKey]) -> PortResult<Vec<Option<HopRecord>>> {
        let key = |h: &HopKey| (h.original.key(), h.destination_vault_arn.clone());
        let mut unique: Vec<&HopKey> = Vec::new();
        let mut seen = HashSet::new();
        for hop in hops {
            // DynamoDB refuses a batch that names one key twice.
            if seen.insert(key(hop)) {
                unique.push(hop);
            }
        }
        let mut found: HashMap<(String, String), HopRecord> = HashMap::new();
        let mut one_by_one: Vec<&HopKey> = Vec::new();
        for chunk in unique.chunks(BATCH_GET_KEYS) {
            let mut wanted: Vec<&HopKey> = chunk.to_vec();
            for attempt in 0..BATCH_GET_ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                let (items, left) = self.batch_get(&wanted).await?;
                for item in items {
                    let (Some(pk), Some(sk)) = (str_of(&item, "pk"), str_of(&item, "sk")) else {
                        continue;
                    };
                    match record_from_item(&item) {
                        Ok(record) => {
                            found.insert((pk, sk), record);
                        }
                        // Read again alone: `get` returns the item's own error.
                        Err(_) => one_by_one
                            .extend(wanted.iter().filter(|h| key(h) == (pk.clone(), sk.clone()))),
                    }
                }
                wanted.retain(|h| left.contains(&key(h)));
                if wanted.is_empty() {
                    break;
                }
            }
            one_by_one.extend(wanted);
        }
        for hop in one_by_one {
            if let Some(record) = self.get(hop).await? {
                found.insert(key(hop), record);
            }
        }
        Ok(hops.iter().map(|h| found.get(&key(h)).cloned()).collect())
    }

    /// One BatchGetItem: the items found, and the keys left unprocessed.
    async fn batch_get(
        &self,
        hops: &[&HopKey],
    ) -> PortResult<(Vec<Item>, HashSet<(String, String)>)> {
        let keys: Vec<Item> = hops
            .iter()
            .map(|h| {
                HashMap::from([
                    ("pk".to_string(), s(h.original.key())),
                    ("sk".to_string(), s(&h.destination_vault_arn)),
                ])
            })
            .collect();
        let wanted = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| {
                PortError::new(ErrorKind::Permanent, "BatchGetItem", None, e.to_string())
            })?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, wanted)
            .send()
            .await
            .map_err(|e| classify("BatchGetItem", &e))?;
        let items = out
            .responses
            .unwrap_or_default()
            .remove(&self.table)
            .unwrap_or_default();
        let left = out
            .unprocessed_keys
            .and_then(|mut u| u.remove(&self.table))
            .map(|k| k.keys)
            .unwrap_or_default()
            .iter()
            .filter_map(|k| Some((str_of(k, "pk")?, str_of(k, "sk")?)))
            .collect();
        Ok((items, left))
    }
}
