//! Scale-out: two server processes on one PostgreSQL database.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::harness::{Backend, Org, Server, Store};
use vigil_ledger::enrolment::DeviceRole;

const MONITORS: usize = 10;
const ITEMS_PER_MONITOR: u64 = 1000;
const BATCH: u64 = 100;

/// 10,000 items from ten monitors, every batch pushed to both processes at once: each item is
/// stored once, both processes return the same receipts, and HQ's feed (read alternately from
/// both) lists each item exactly once.
#[tokio::test]
async fn two_processes_on_one_database_store_each_of_10000_items_once_and_the_feed_lists_each_once()
{
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(Backend::Postgres, dir.path());
    let org = Org::new("Bishkek Monitoring Group");
    org.register(&store, dir.path());
    let a = Server::start(&store, &dir.path().join("a.log"));
    let b = Server::start(&store, &dir.path().join("b.log"));
    let servers = [&a, &b];

    let key = |s: &Server| {
        let url = format!("{}/v1/server", s.url);
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["receipt_key"]
                .clone()
        }
    };
    assert_eq!(key(&a).await, key(&b).await, "one receipt key for both");

    let hq = org.enrol("HQ reader", DeviceRole::Hq);
    assert_eq!(hq.register(&a).await.status, 200);
    let monitors: Vec<_> = (0..MONITORS)
        .map(|i| org.enrol(&format!("Laptop {i}"), DeviceRole::Monitor))
        .collect();
    for (i, m) in monitors.iter().enumerate() {
        assert_eq!(m.register(servers[i % 2]).await.status, 200);
    }

    let mut pushed = HashSet::new();
    let (a, b) = (&a, &b);
    let org = &org;
    let work = monitors.iter().map(|m| {
        let batches: Vec<Vec<Value>> = (0..ITEMS_PER_MONITOR / BATCH)
            .map(|batch| {
                (1..=BATCH)
                    .map(|i| m.item(org, batch * BATCH + i, b"a sealed revision"))
                    .collect()
            })
            .collect();
        async move {
            let mut ids = Vec::new();
            for items in batches {
                let (ra, rb) = tokio::join!(m.push(a, &items), m.push(b, &items));
                assert_eq!((ra.status, rb.status), (200, 200), "{ra:?} {rb:?}");
                assert_eq!(
                    ra.body["receipts"], rb.body["receipts"],
                    "the same receipts"
                );
                ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
            }
            ids
        }
    });
    for ids in futures_util::future::join_all(work).await {
        pushed.extend(ids);
    }
    let total = MONITORS * ITEMS_PER_MONITOR as usize;
    assert_eq!(pushed.len(), total);
    assert_eq!(store.count("items"), total as i64);

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut since = 0;
    for page in 0.. {
        let r = hq
            .send(
                servers[page % 2],
                "GET",
                &format!("/v1/feed?since={since}&limit=1000"),
                b"",
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        let items = r.body["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        for i in items {
            *seen
                .entry(i["id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        since = r.body["next"].as_i64().unwrap();
    }
    assert_eq!(seen.len(), total, "every item in the feed");
    assert!(seen.values().all(|n| *n == 1), "each once");
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), pushed);
}
