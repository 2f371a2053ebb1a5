//! Contained resources' index rows: one `contained_resource` row each, its idx_* rows under
//! rid = -crid, replaced whenever the container's current version changes.

use super::db::{push_list, Arg, Tx};
use super::index_rows;
use super::ROWS_PER_STATEMENT;
use search::ContainedRows;

/// Removes what the containers `rids` had contained.
pub async fn delete(tx: &mut Tx, rids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in rids.chunks(ROWS_PER_STATEMENT) {
        let mut args = Vec::with_capacity(chunk.len());
        let marks = push_list(&mut args, chunk.iter().map(|r| Arg::Int(*r)));
        // One round trip on the write path when, as usual, nothing was contained.
        let old: Vec<(i64,)> = tx.fetch(&format!("DELETE FROM contained_resource WHERE container_rid IN ({marks}) RETURNING crid"), &args).await?;
        let negative: Vec<i64> = old.iter().map(|(c,)| -c).collect();
        index_rows::delete(tx, &negative).await?;
    }
    Ok(())
}

/// Records the contained resources of containers (container rid, their rows).
pub async fn insert(tx: &mut Tx, containers: &[(i64, &[ContainedRows])]) -> Result<(), sqlx::Error> {
    let backend = tx.backend();
    let all: Vec<(i64, &ContainedRows)> = containers.iter().flat_map(|(rid, cs)| cs.iter().map(move |c| (*rid, c))).collect();
    for chunk in all.chunks(ROWS_PER_STATEMENT) {
        let mut args = Vec::with_capacity(chunk.len() * 3);
        for (rid, (rt, id, _)) in chunk {
            args.extend([Arg::Int(*rid), Arg::Text(rt), Arg::Text(id)]);
        }
        let sql = format!(
            "INSERT INTO contained_resource (container_rid, res_type, local_id) VALUES {} RETURNING crid, container_rid, local_id",
            backend.values(chunk.len(), 3, None)
        );
        let returned: Vec<(i64, i64, String)> = tx.fetch(&sql, &args).await?;
        let crid = |rid: i64, id: &str| returned.iter().find(|(_, r, l)| *r == rid && l == id).map(|(c, _, _)| -c);
        let mut rows = Vec::with_capacity(chunk.len());
        for (rid, (rt, id, index)) in chunk {
            rows.push((crid(*rid, id).ok_or(sqlx::Error::RowNotFound)?, rt.as_str(), index.as_slice()));
        }
        index_rows::insert(tx, &rows).await?;
    }
    Ok(())
}
