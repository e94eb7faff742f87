//! Durable storage (`--data-dir`): each key's record (its versions, and this node's count of
//! its writes to it) and the hints the node keeps, in redb, an embedded ACID key-value store in
//! pure Rust (no C library to build, one file, crash-safe commits). The node writes what
//! changed once per batch of inputs and commits before it answers a client or acknowledges a
//! peer, so what it acknowledged survives a kill -9.

use std::path::Path;
use std::rc::Rc;

use converge_replica::crdt::CounterEntry;
use converge_replica::ids::NodeId;
use converge_replica::replica::{Hint, KeyRecord, KeyTable, WireVersion};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const HINTS: &str = "hints";

/// A key's record on disk.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    versions: Vec<WireVersion>,
    writes: u32,
    #[serde(default)]
    up: u64,
    #[serde(default)]
    down: u64,
}

/// A hint on disk.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HintOnDisk {
    owner: NodeId,
    version: WireVersion,
}

/// What a node finds on disk when it starts.
#[derive(Default)]
pub struct Loaded {
    /// Each key's record.
    pub keys: Vec<(converge_replica::ids::Key, KeyRecord)>,
    /// The hints it kept.
    pub hints: Vec<Hint>,
}

/// A node's database.
pub struct Disk {
    db: Database,
}

/// Why storage failed, in words.
pub type Failure = String;

fn fail(what: &str) -> impl Fn(&dyn std::fmt::Display) -> Failure + '_ {
    move |e| format!("{what}: {e}")
}

impl Disk {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Disk, Failure> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("node.redb");
        let db =
            Database::create(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(|e| fail("storage")(&e))?;
        txn.open_table(KEYS).map_err(|e| fail("storage")(&e))?;
        txn.open_table(META).map_err(|e| fail("storage")(&e))?;
        txn.commit().map_err(|e| fail("storage")(&e))?;
        Ok(Disk { db })
    }

    /// Everything kept, its keys interned into `keys`, checked as messages from the wire are.
    pub fn load(&self, nodes: u32, keys: &mut KeyTable) -> Result<Loaded, Failure> {
        let f = fail("reading the store");
        let txn = self.db.begin_read().map_err(|e| f(&e))?;
        let table = txn.open_table(KEYS).map_err(|e| f(&e))?;
        let mut loaded = Loaded::default();
        for entry in table.iter().map_err(|e| f(&e))? {
            let (name, bytes) = entry.map_err(|e| f(&e))?;
            let record: OnDisk = serde_json::from_slice(bytes.value())
                .map_err(|e| format!("the record of key \"{}\" is damaged: {e}", name.value()))?;
            let versions = record
                .versions
                .into_iter()
                .map(|v| v.into_version(nodes, keys))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("the record of key \"{}\": {e}", name.value()))?;
            let key = keys.intern(name.value());
            loaded.keys.push((
                key,
                KeyRecord {
                    versions,
                    writes: record.writes,
                    total: CounterEntry {
                        up: record.up,
                        down: record.down,
                    },
                },
            ));
        }
        let meta = txn.open_table(META).map_err(|e| f(&e))?;
        if let Some(bytes) = meta.get(HINTS).map_err(|e| f(&e))? {
            let hints: Vec<HintOnDisk> = serde_json::from_slice(bytes.value())
                .map_err(|e| format!("the hints are damaged: {e}"))?;
            for h in hints {
                let version = h
                    .version
                    .into_version(nodes, keys)
                    .map_err(|e| format!("a hint: {e}"))?;
                loaded.hints.push(Hint {
                    owner: h.owner,
                    version,
                });
            }
        }
        Ok(loaded)
    }

    /// Writes the records of `changed` keys (an empty record removes the key) and, if given,
    /// the whole list of hints, in one transaction, and commits it to disk.
    pub fn save(
        &self,
        changed: &[(Rc<str>, KeyRecord)],
        hints: Option<&[Hint]>,
        keys: &KeyTable,
    ) -> Result<(), Failure> {
        let f = fail("writing the store");
        let txn = self.db.begin_write().map_err(|e| f(&e))?;
        {
            let mut table = txn.open_table(KEYS).map_err(|e| f(&e))?;
            for (name, record) in changed {
                if record.versions.is_empty() && record.writes == 0 {
                    table.remove(&**name).map_err(|e| f(&e))?;
                    continue;
                }
                let on_disk = OnDisk {
                    versions: record.versions.iter().map(|v| v.to_wire(keys)).collect(),
                    writes: record.writes,
                    up: record.total.up,
                    down: record.total.down,
                };
                let bytes = serde_json::to_vec(&on_disk).expect("records serialize");
                table.insert(&**name, bytes.as_slice()).map_err(|e| f(&e))?;
            }
            if let Some(hints) = hints {
                let mut meta = txn.open_table(META).map_err(|e| f(&e))?;
                let list: Vec<HintOnDisk> = hints
                    .iter()
                    .map(|h| HintOnDisk {
                        owner: h.owner,
                        version: h.version.to_wire(keys),
                    })
                    .collect();
                let bytes = serde_json::to_vec(&list).expect("hints serialize");
                meta.insert(HINTS, bytes.as_slice()).map_err(|e| f(&e))?;
            }
        }
        txn.commit().map_err(|e| f(&e))
    }

    /// Forgets every version and hint, keeping each key's count of this node's writes (a
    /// wipe: see `Replica::wipe`).
    pub fn wipe(&self, counts: &[(Rc<str>, KeyRecord)], keys: &KeyTable) -> Result<(), Failure> {
        let f = fail("wiping the store");
        {
            let txn = self.db.begin_write().map_err(|e| f(&e))?;
            txn.delete_table(KEYS).map_err(|e| f(&e))?;
            txn.delete_table(META).map_err(|e| f(&e))?;
            txn.open_table(KEYS).map_err(|e| f(&e))?;
            txn.open_table(META).map_err(|e| f(&e))?;
            txn.commit().map_err(|e| f(&e))?;
        }
        self.save(counts, Some(&[]), keys)
    }
}
