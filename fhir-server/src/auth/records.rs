//! The few reads of FHIR resources the authorization server needs: whether a launch context
//! exists, and the patients a user picks from in a standalone launch.

use serde_json::Value;

use crate::store::{Arg, Pool};

/// How many patients the picker shows at once.
pub const PICKER_LIMIT: i64 = 50;

/// Whether a current, undeleted resource exists.
pub async fn exists(pool: &Pool, res_type: &str, id: &str) -> Result<bool, sqlx::Error> {
    let rows: Vec<(i64,)> = pool
        .fetch("SELECT rid FROM resource WHERE res_type = $1 AND res_id = $2 AND NOT deleted", &[Arg::Text(res_type), Arg::Text(id)])
        .await?;
    Ok(!rows.is_empty())
}

/// A patient as the picker lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientChoice {
    /// Resource id.
    pub id: String,
    /// Given and family names.
    pub name: String,
    /// `birthDate`, when known.
    pub birth_date: Option<String>,
}

/// Patients whose name contains `filter` (case and accents folded; all when empty), at most
/// [`PICKER_LIMIT`], through the search index of `name`.
pub async fn patients(pool: &Pool, filter: &str) -> Result<Vec<PatientChoice>, sqlx::Error> {
    let content = pool.backend().json_col("r.");
    let folded = search::extract::fold(filter.trim());
    let rows: Vec<(String, Option<String>)> = if folded.is_empty() {
        let sql = format!("SELECT r.res_id, {content} FROM resource r WHERE r.res_type = 'Patient' AND NOT r.deleted ORDER BY r.res_id LIMIT $1");
        pool.fetch(&sql, &[Arg::Int(PICKER_LIMIT)]).await?
    } else {
        let pattern = format!("%{}%", folded.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let sql = format!(
            "SELECT r.res_id, {content} FROM resource r WHERE r.res_type = 'Patient' AND NOT r.deleted AND r.rid IN \
             (SELECT s.rid FROM idx_string s WHERE s.res_type = 'Patient' AND s.param = 'name' AND s.value_norm LIKE $1 ESCAPE '\\') \
             ORDER BY r.res_id LIMIT $2"
        );
        pool.fetch(&sql, &[Arg::Text(&pattern), Arg::Int(PICKER_LIMIT)]).await?
    };
    Ok(rows.into_iter().map(|(id, text)| choice(id, text.as_deref())).collect())
}

fn choice(id: String, content: Option<&str>) -> PatientChoice {
    let doc: Value = content.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null);
    let name = doc["name"]
        .as_array()
        .and_then(|names| names.first())
        .map(|n| {
            if let Some(text) = n["text"].as_str() {
                return text.to_string();
            }
            let mut parts: Vec<&str> = n["given"].as_array().map(|g| g.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            parts.extend(n["family"].as_str());
            parts.join(" ")
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "(no name)".to_string());
    PatientChoice { id, name, birth_date: doc["birthDate"].as_str().map(str::to_string) }
}
