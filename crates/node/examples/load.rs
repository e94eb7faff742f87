//! A load generator for a cluster over HTTP, in the manner of oha: writes of the tutorial's
//! shape (`POST /write {"key", "value"}`) through random nodes, as fast as they go or at a
//! fixed rate, then (for converge) the time until every node holds one more write. Prints one
//! JSON line of figures. Used by scripts/bench-nodes.sh against converge and the tutorial's
//! Flask nodes alike.
//!
//!   cargo run --release -p converge-node --example load -- \
//!       --targets http://127.0.0.1:5000,http://127.0.0.1:5001 --writes 20000 --concurrency 32
//!       [--rate 1000] [--w quorum] [--keys 1000] [--distinct] [--converge]
//!
//! `--distinct` writes key i mod --keys for write i (every key once, to fill a store);
//! otherwise keys are drawn at random from --keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Options {
    targets: Vec<String>,
    writes: u64,
    concurrency: u64,
    rate: f64,
    w: Option<String>,
    keys: u64,
    distinct: bool,
    converge: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        targets: Vec::new(),
        writes: 10_000,
        concurrency: 32,
        rate: 0.0,
        w: None,
        keys: 1_000,
        distinct: false,
        converge: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<f64>().map_err(|_| format!("{flag}: {v}?"));
        match flag.as_str() {
            "--targets" => o.targets = value()?.split(',').map(String::from).collect(),
            "--writes" => o.writes = number(value()?)? as u64,
            "--concurrency" => o.concurrency = number(value()?)?.max(1.0) as u64,
            "--rate" => o.rate = number(value()?)?,
            "--w" => o.w = Some(value()?),
            "--keys" => o.keys = number(value()?)?.max(1.0) as u64,
            "--converge" => o.converge = true,
            "--distinct" => o.distinct = true,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.targets.is_empty() {
        return Err("give --targets http://host:port,...".into());
    }
    Ok(o)
}

/// A small, fast generator (the load's choices need not be replayable).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency as usize)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.concurrency {
        let (o, http, next, errors) = (o.clone(), http.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= o.writes {
                    break latencies;
                }
                // At a fixed rate, write i is due at i / rate: latency counts from then, so a
                // server that falls behind is charged for the wait (no coordinated omission).
                let due = if o.rate > 0.0 {
                    let at = start + Duration::from_secs_f64(i as f64 / o.rate);
                    tokio::time::sleep_until(at.into()).await;
                    at
                } else {
                    Instant::now()
                };
                let r = mix(i);
                let target = &o.targets[(r % o.targets.len() as u64) as usize];
                let key = if o.distinct {
                    i % o.keys
                } else {
                    (r >> 16) % o.keys
                };
                let mut body = json!({"key": format!("key{key}"), "value": format!("value {i}")});
                if let Some(w) = &o.w {
                    body["w"] = Value::String(w.clone());
                }
                let ok = match http
                    .post(format!("{target}/write"))
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                if ok {
                    latencies.push(due.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let mut figures = json!({
        "writes": latencies.len(),
        "errors": errors.load(Ordering::Relaxed),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "writesPerSecond": (latencies.len() as f64 / seconds).round(),
        "p50Ms": (percentile(&latencies, 0.50) * 1000.0).round() / 1000.0,
        "p99Ms": (percentile(&latencies, 0.99) * 1000.0).round() / 1000.0,
        "maxMs": (latencies.last().copied().unwrap_or(f64::NAN) * 1000.0).round() / 1000.0,
    });
    if o.converge {
        // One more write through the first node; poll every node's copy (GET /read/{key} at a
        // node without coordination answers from that node alone).
        let mut times = Vec::new();
        for round in 0..20 {
            let key = format!("converge-{round}-{}", mix(round) % 1_000_000);
            let t0 = Instant::now();
            let _ = http
                .post(format!("{}/write", o.targets[0]))
                .json(&json!({"key": key, "value": "here"}))
                .send()
                .await;
            let mut pending: Vec<&String> = o.targets.iter().collect();
            while !pending.is_empty() && t0.elapsed() < Duration::from_secs(5) {
                let mut still = Vec::new();
                for t in pending {
                    let v: Value = match http.get(format!("{t}/read/{key}")).send().await {
                        Ok(r) => r.json().await.unwrap_or(Value::Null),
                        Err(_) => Value::Null,
                    };
                    if v["value"] != "here" {
                        still.push(t);
                    }
                }
                pending = still;
            }
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        figures["convergeP50Ms"] = json!((percentile(&times, 0.5) * 1000.0).round() / 1000.0);
        figures["convergeMaxMs"] =
            json!((times.last().copied().unwrap_or(0.0) * 1000.0).round() / 1000.0);
    }
    println!("{figures}");
}
