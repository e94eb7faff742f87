//! What the node's integration tests share.

use std::time::Duration;

use serde_json::Value;

/// How long a test's request waits for its answer before it fails (rather than hang the suite).
pub const GIVE_UP: Duration = Duration::from_secs(10);

/// An HTTP client whose requests give up after `after`.
pub fn client(after: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(after).build().unwrap()
}

/// GET `url`, its body as JSON.
pub async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// POST `body` to `url`: the status and the body as JSON.
pub async fn post_json(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: &Value,
) -> (u16, Value) {
    let url = url.into_url().unwrap();
    let r = match http.post(url.clone()).json(body).send().await {
        Ok(r) => r,
        Err(e) => panic!(
            "POST {url} {body}: {e:?}; the node's status now: {}",
            status_of(&url).await
        ),
    };
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The `/status` of the node at `url`'s host, or why it could not be had: said when a request
/// to it fails, to show what the node was doing.
async fn status_of(url: &reqwest::Url) -> String {
    let mut status = url.clone();
    status.set_path("/status");
    status.set_query(None);
    match client(Duration::from_secs(2)).get(status).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => format!("none ({e})"),
    }
}
