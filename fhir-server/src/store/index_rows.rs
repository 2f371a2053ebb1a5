//! Writes search-index rows in multi-row INSERTs (one statement per table per resource).

use super::db::{push_list, Arg, Tx};
use super::ROWS_PER_STATEMENT;
use search::IndexRow;
use std::collections::{BTreeSet, HashMap};

const TABLES: [&str; 8] = ["idx_string", "idx_token", "idx_reference", "idx_date", "idx_number", "idx_quantity", "idx_uri", "idx_text"];

/// Removes all index rows of some resources.
pub async fn delete(tx: &mut Tx, rids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in rids.chunks(ROWS_PER_STATEMENT) {
        let mut args = Vec::with_capacity(chunk.len());
        let marks = push_list(&mut args, chunk.iter().map(|r| Arg::Int(*r)));
        for t in TABLES {
            tx.execute(&format!("DELETE FROM {t} WHERE rid IN ({marks})"), &args).await?;
        }
    }
    Ok(())
}

/// Removes the rows of some parameters (row `param` values) of some resources.
pub async fn delete_params(tx: &mut Tx, rids: &[i64], params: &[String]) -> Result<(), sqlx::Error> {
    for chunk in rids.chunks(ROWS_PER_STATEMENT) {
        let mut args = Vec::with_capacity(chunk.len() + params.len());
        let marks = push_list(&mut args, chunk.iter().map(|r| Arg::Int(*r)));
        let names = push_list(&mut args, params.iter().map(|p| Arg::Text(p)));
        for t in TABLES {
            tx.execute(&format!("DELETE FROM {t} WHERE rid IN ({marks}) AND param IN ({names})"), &args).await?;
        }
    }
    Ok(())
}

/// Removes the rows of some parameters (row `param` values) from every resource of some types.
pub async fn delete_params_of_types(tx: &mut Tx, types: &[&str], params: &[String]) -> Result<(), sqlx::Error> {
    let mut args = Vec::with_capacity(types.len() + params.len());
    let of_types = push_list(&mut args, types.iter().map(|t| Arg::Text(t)));
    let names = push_list(&mut args, params.iter().map(|p| Arg::Text(p)));
    for t in TABLES {
        tx.execute(&format!("DELETE FROM {t} WHERE res_type IN ({of_types}) AND param IN ({names})"), &args).await?;
    }
    Ok(())
}

/// Columns after (rid, res_type, param) for each table, by table index.
fn columns(table: usize) -> &'static [&'static str] {
    match table {
        0 => &["value_norm", "value_exact"],
        1 => &["system", "code", "text_norm", "type_system", "type_code", "patient", "patient_rid"],
        2 => &["target_type", "target_id", "target_version", "url", "ident_system", "ident_value"],
        3 => &["low", "high"],
        4 => &["value", "low", "high"],
        5 => &["value", "low", "high", "system", "code", "unit", "canon_value", "canon_code"],
        _ => &["value"],
    }
}

/// (table index, param, composite group, column values) of one row.
fn row_args(row: &IndexRow) -> (usize, &str, Option<i64>, Vec<Arg<'_>>) {
    use Arg::*;
    if let IndexRow::Composite { grp, row } = row {
        let (t, param, _, args) = row_args(row);
        return (t, param, Some(*grp as i64), args);
    }
    let (t, param, args) = match row {
        IndexRow::String { param, value_norm, value_exact } => (0, param, vec![Text(value_norm), Text(value_exact)]),
        IndexRow::Token { param, system, code, text_norm, type_system, type_code } => (
            1,
            param,
            vec![OptText(system.as_deref()), OptText(code.as_deref()), OptText(text_norm.as_deref()), OptText(type_system.as_deref()), OptText(type_code.as_deref())],
        ),
        IndexRow::Reference { param, target_type, target_id, target_version, url, ident_system, ident_value } => (
            2,
            param,
            vec![
                OptText(target_type.as_deref()),
                OptText(target_id.as_deref()),
                OptText(target_version.as_deref()),
                OptText(url.as_deref()),
                OptText(ident_system.as_deref()),
                OptText(ident_value.as_deref()),
            ],
        ),
        IndexRow::Date { param, low, high } => (3, param, vec![Int(*low), Int(*high)]),
        IndexRow::Number { param, value, low, high } => (4, param, vec![Float(*value), Float(*low), Float(*high)]),
        IndexRow::Quantity { param, value, low, high, system, code, unit, canon_value, canon_code } => (
            5,
            param,
            vec![
                Float(*value),
                Float(*low),
                Float(*high),
                OptText(system.as_deref()),
                OptText(code.as_deref()),
                OptText(unit.as_deref()),
                OptFloat(*canon_value),
                OptText(canon_code.as_deref()),
            ],
        ),
        IndexRow::Uri { param, value } => (6, param, vec![Text(value)]),
        IndexRow::Text { param, value } => (7, param, vec![Text(value)]),
        IndexRow::Composite { .. } => unreachable!("handled above"),
    };
    (t, param, None, args)
}

/// The `patient` column of a resource's token rows ([`search::token_patient`]). Contained
/// resources' rows (negative rid) carry none: `_has` never counts them as sources.
fn patient_of(rid: i64, rows: &[IndexRow]) -> Option<&str> {
    if rid > 0 {
        search::token_patient(rows)
    } else {
        None
    }
}

/// [`patient_of`] in SQL, for the token row `idx_token`: what `patient` must hold once the
/// resource's reference rows are in place (the migration that added the column runs the same).
const PATIENT_FROM_REFERENCES: &str = "(SELECT CASE WHEN COUNT(DISTINCT r.target_id) > 1 THEN '*' ELSE MAX(r.target_id) END \
     FROM idx_reference r WHERE r.rid = idx_token.rid AND r.param = 'patient' AND r.target_type = 'Patient')";

/// The `patient_rid` column from the `patient` column (the migration that added it runs the same).
const PATIENT_RID: &str = "patient_rid = (SELECT p.rid FROM resource p WHERE p.res_type = 'Patient' AND p.res_id = idx_token.patient)";

/// Recomputes the `patient` and `patient_rid` columns of some resources' token rows from their
/// stored reference rows: after a reindex that replaced only some parameters' rows, the new
/// token rows were made without the references, or the `patient` rows changed under the old
/// token rows.
pub async fn refresh_patients(tx: &mut Tx, rids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in rids.chunks(ROWS_PER_STATEMENT) {
        let mut args = Vec::with_capacity(chunk.len());
        let marks = push_list(&mut args, chunk.iter().filter(|r| **r > 0).map(|r| Arg::Int(*r)));
        if !args.is_empty() {
            refresh_where(tx, &format!("rid IN ({marks})"), &args).await?;
        }
    }
    Ok(())
}

/// [`refresh_patients`] for every resource of some types.
pub async fn refresh_patients_of_types(tx: &mut Tx, types: &[&str]) -> Result<(), sqlx::Error> {
    let mut args = Vec::with_capacity(types.len());
    let of_types = push_list(&mut args, types.iter().map(|t| Arg::Text(t)));
    refresh_where(tx, &format!("res_type IN ({of_types}) AND rid > 0"), &args).await
}

/// [`refresh_patients`] for the token rows `rows` selects: the rid follows the new `patient`,
/// which an UPDATE's own SET cannot read.
async fn refresh_where(tx: &mut Tx, rows: &str, args: &[Arg<'_>]) -> Result<(), sqlx::Error> {
    tx.execute(&format!("UPDATE idx_token SET patient = {PATIENT_FROM_REFERENCES}, patient_rid = NULL WHERE {rows}"), args).await?;
    tx.execute(&format!("UPDATE idx_token SET {PATIENT_RID} WHERE {rows} AND patient IS NOT NULL AND patient <> '{}'", search::SEVERAL_PATIENTS), args).await.map(|_| ())
}

/// The rids of the Patients that resources' token rows name ([`patient_of`]), from one look-up
/// per statement's worth of ids. Rids are never reused (a deleted resource keeps its row), so a
/// token row keeps its Patient's rid; a Patient written after the row is found by id instead.
async fn patient_rids<'a>(tx: &mut Tx, named: impl Iterator<Item = &'a str>) -> Result<HashMap<String, i64>, sqlx::Error> {
    let ids: Vec<&str> = named.filter(|id| *id != search::SEVERAL_PATIENTS).collect::<BTreeSet<_>>().into_iter().collect();
    let mut rids = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut args = vec![Arg::Text("Patient")];
        let marks = push_list(&mut args, chunk.iter().map(|id| Arg::Text(id)));
        let found: Vec<(String, i64)> = tx.fetch(&format!("SELECT res_id, rid FROM resource WHERE res_type = $1 AND res_id IN ({marks})"), &args).await?;
        rids.extend(found);
    }
    Ok(rids)
}

/// Inserts the index rows of several resources: (rid, resource type, rows). A resource's token
/// rows take their `patient` from its reference rows among `rows`; a caller passing only some
/// parameters' rows follows with [`refresh_patients`].
pub async fn insert(tx: &mut Tx, resources: &[(i64, &str, &[IndexRow])]) -> Result<(), sqlx::Error> {
    let backend = tx.backend();
    let patients: Vec<Option<&str>> = resources.iter().map(|(rid, _, rows)| patient_of(*rid, rows)).collect();
    let patient_rids = patient_rids(tx, patients.iter().flatten().copied()).await?;
    let mut by_table: [Vec<(i64, &str, &str, Option<i64>, Vec<Arg<'_>>)>; 8] = Default::default();
    for ((rid, res_type, rows), patient) in resources.iter().zip(&patients) {
        let patient_rid = patient.and_then(|p| patient_rids.get(p).copied());
        for r in rows.iter() {
            let (t, param, grp, mut args) = row_args(r);
            if t == 1 {
                args.push(Arg::OptText(*patient));
                args.push(Arg::OptInt(patient_rid));
            }
            by_table[t].push((*rid, res_type, param, grp, args));
        }
    }
    for (t, entries) in by_table.iter().enumerate() {
        let cols = columns(t);
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let sql = format!("INSERT INTO {} (rid, res_type, param, grp, {}) VALUES {}", TABLES[t], cols.join(", "), backend.values(chunk.len(), cols.len() + 4, None));
            let mut args: Vec<Arg> = Vec::with_capacity(chunk.len() * (cols.len() + 4));
            for (rid, res_type, param, grp, vals) in chunk {
                args.push(Arg::Int(*rid));
                args.push(Arg::Text(res_type));
                args.push(Arg::Text(param));
                args.push(Arg::OptInt(*grp));
                args.extend(vals.iter().cloned());
            }
            tx.execute(&sql, &args).await?;
        }
    }
    Ok(())
}
