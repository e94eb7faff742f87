//! What the node's integration tests share.

use serde_json::Value;

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
    let r = http.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
