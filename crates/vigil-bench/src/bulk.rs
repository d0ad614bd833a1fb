//! Bulk insert (section 2 of the report): the vault against plain SQLite running the same
//! statements, with the breakdown of where the time goes, and updates.

use super::*;
use crate::search_size::{file_len, plain_wal};

// ---------------------------------------------------------------------------------------------
// 2. Bulk insert

pub(crate) fn bench_bulk(work: &Path, incidents: &[Incident]) -> Result<(Databases, Section)> {
    let n = incidents.len();
    let rate = |m: usize, t: Duration| m as f64 / t.as_secs_f64();
    let mut rows = Vec::new();

    // A tenth first, to see whether the cost per incident holds as the vault grows.
    let m = n / 10;
    progress(&format!(
        "bulk insert: {m} incidents per side (scaling probe)"
    ));
    let probe_dir = work.join("probe");
    let (pv, pp) = insert_both(&probe_dir, &probe_dir.join("plain.db"), &incidents[..m])?;
    fs::remove_dir_all(&probe_dir)?;

    progress(&format!("bulk insert: {n} incidents per side"));
    let vault_dir = work.join("vault");
    let plain_path = work.join("plain.db");
    let (tv, tp) = insert_both(&vault_dir, &plain_path, incidents)?;
    let (rv, rp) = (rate(n, tv), rate(n, tp));
    rows.push(
        Row::values(
            format!("incidents per second, {} in one call", count(n as f64)),
            count(rv),
            count(rp),
            rv,
            rp,
        )
        .target("Vigil ≥ 100 000/s", Verdict::of(rv >= 100_000.0)),
    );
    // The target says "rows/s": every row the import writes, in every table, counted on the
    // reference (both sides write the same rows).
    let table_rows: u64 = {
        let c = rusqlite::Connection::open(&plain_path)?;
        let mut total = 0i64;
        for t in [
            "incidents",
            "search_index",
            "search_refs",
            "incident_terms",
            "incident_tags",
        ] {
            total += c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })?;
        }
        total as u64
    };
    let (wv, wp) = (
        table_rows as f64 / tv.as_secs_f64(),
        table_rows as f64 / tp.as_secs_f64(),
    );
    rows.push(
        Row::values(
            format!(
                "table rows written per second ({} rows: incidents, full-text rows, their refs, \
                 violation and tag rows)",
                count(table_rows as f64)
            ),
            count(wv),
            count(wp),
            wv,
            wp,
        )
        .target(
            "Vigil ≥ 100 000 rows/s, if rows are table rows",
            Verdict::of(wv >= 100_000.0),
        ),
    );
    rows.push(Row::time(
        format!("total for {} incidents", count(n as f64)),
        tv,
        Some(tp),
    ));
    rows.push(Row::values(
        format!(
            "probe: incidents per second, {} in one call",
            count(m as f64)
        ),
        count(rate(m, pv)),
        count(rate(m, pp)),
        rate(m, pv),
        rate(m, pp),
    ));

    progress("bulk insert: where the time goes (side measurements)");
    let parts = breakdown(work, incidents)?;
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let per = |d: Duration| format!("{:.1} µs", us(d));
    rows.push(Row::time(
        format!("validation of {} (both)", count(n as f64)),
        parts.validate,
        Some(parts.validate),
    ));
    rows.push(Row::time(
        format!("`to_json` of {} (both)", count(n as f64)),
        parts.json,
        Some(parts.json),
    ));
    // Shares of the side measurement's own total, so that the parts add up to 100%.
    let side_total = parts.validate + parts.insert + parts.commit;
    let plain_total = side_total.as_secs_f64();
    let share = |d: Duration| d.as_secs_f64() * 100.0 / plain_total;
    let row_only = parts
        .insert
        .saturating_sub(parts.index)
        .saturating_sub(parts.json);
    let note = format!(
        "`Vault::create_incidents` in one call with pre-generated incidents (validation of each \
         against the thesaurus, then `sql::insert_incident` for each: `to_json`, the incident \
         row, the search rows for the incident and each party with their `search_refs` rows; \
         one transaction and one durable commit) against the reference doing exactly the same: \
         `incident.validate(&Thesaurus::default_terms())` for each, then the same \
         `vigil_store::sql::insert_incident` in one transaction on an unkeyed connection, so \
         only encryption differs; each side into a new database. The probe row loads the \
         first tenth the same way, to show whether the rate holds as the database grows. \
         **Where the time goes** (per incident, from side measurements on plain SQLite into \
         new databases, {n} incidents each; the vault pays the same plus encryption): \
         validation {v} ({vs:.0}% of their total of {t:.1} µs; the plain run in the table took \
         {tpu:.1} µs), `to_json` {j} ({js:.0}%), \
         `sql::index_incident` alone — FTS5 rows for the incident and its {parties:.1} parties \
         on average, plus their `search_refs` rows — {ix} ({ixs:.0}%), the rest of \
         `sql::insert_incident` (the incident row and the other rows it writes besides the \
         search rows) {r} ({rs:.0}%), the commit {c} \
         ({cs:.0}%), which writes out and fsyncs the WAL: a JSON document averages {doc} \
         bytes and the plain database ends at {db} bytes per incident; encryption (Vigil − plain) {e:+.1} µs per incident.",
        n = count(n as f64),
        v = per(parts.validate),
        vs = share(parts.validate),
        t = us(side_total),
        tpu = us(tp),
        j = per(parts.json),
        js = share(parts.json),
        parties = incidents.iter().map(|i| i.parties.len()).sum::<usize>() as f64 / n as f64,
        ix = per(parts.index),
        ixs = share(parts.index),
        r = per(row_only),
        rs = share(row_only),
        c = per(parts.commit),
        cs = share(parts.commit),
        e = us(tv) - us(tp),
        doc = count(parts.json_bytes as f64 / n as f64),
        db = count(parts.db_bytes as f64 / n as f64),
    );
    Ok((
        Databases {
            vault_dir,
            plain_path,
        },
        (2, "2. Bulk insert of incidents".to_owned(), rows, note),
    ))
}

/// Side measurements of the parts of a bulk insert, on plain SQLite.
struct Breakdown {
    validate: Duration,
    json: Duration,
    /// `sql::index_incident` alone for every incident, one transaction, commit excluded.
    index: Duration,
    /// `sql::insert_incident` for every incident, one transaction, commit excluded.
    insert: Duration,
    /// The commit of that transaction.
    commit: Duration,
    /// The length of all the JSON documents.
    json_bytes: usize,
    /// The size of the plain database after that insert, checkpointed.
    db_bytes: u64,
}

fn breakdown(work: &Path, incidents: &[Incident]) -> Result<Breakdown> {
    let thesaurus = Thesaurus::default_terms();
    let ((), validate) = timed(|| {
        for i in incidents {
            i.validate(&thesaurus)
                .map_err(|e| anyhow::anyhow!("invalid incident: {e}"))?;
        }
        Ok(())
    })?;
    let (json_bytes, json) = timed(|| {
        let bytes: usize = incidents.iter().map(|i| i.to_json().len()).sum();
        Ok(std::hint::black_box(bytes))
    })?;

    let path = work.join("breakdown-index.db");
    let mut db = PlainDb::create(&path)?;
    let tx = db.conn_mut().transaction()?;
    let ((), index) = timed(|| {
        for i in incidents {
            vigil_store::sql::index_incident(&tx, i, false)?;
        }
        Ok(())
    })?;
    tx.commit()?;
    db.close()?;
    remove_db(&path)?;

    let path = work.join("breakdown-insert.db");
    let mut db = PlainDb::create(&path)?;
    let tx = db.conn_mut().transaction()?;
    let ((), insert) = timed(|| {
        for i in incidents {
            vigil_store::sql::insert_incident(&tx, i)?;
        }
        Ok(())
    })?;
    let ((), commit) = timed(|| Ok(tx.commit()?))?;
    db.close()?;
    let db_bytes = file_len(&path);
    remove_db(&path)?;
    Ok(Breakdown {
        validate,
        json,
        index,
        insert,
        commit,
        json_bytes,
        db_bytes,
    })
}

fn remove_db(path: &Path) -> Result<()> {
    fs::remove_file(path)?;
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    let _ = fs::remove_file(plain_wal(path));
    let _ = fs::remove_file(shm);
    Ok(())
}

/// `create_incidents` into a new vault at `vault_dir`, then the reference into a new plain
/// database at `plain_path`; both closed afterwards.
fn insert_both(
    vault_dir: &Path,
    plain_path: &Path,
    incidents: &[Incident],
) -> Result<(Duration, Duration)> {
    let mut vault = Vault::create(
        vault_dir,
        &pass(),
        KdfChoice::Params(KdfParams::FLOOR),
        clock(),
    )?;
    let ((), tv) = timed(|| Ok(vault.create_incidents(incidents)?))?;
    vault.close()?;
    let mut db = PlainDb::create(plain_path)?;
    let ((), tp) = timed(|| db.insert_incidents(incidents))?;
    db.close()?;
    Ok((tv, tp))
}

/// Saving an edit of one incident in the full databases (median of a few).
pub(crate) fn bench_update(
    dbs: &Databases,
    incidents: &[Incident],
    runs: usize,
) -> Result<Vec<Row>> {
    progress("update: saving edited incidents in the full databases");
    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let mut vault = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
    let mut db = PlainDb::open(&dbs.plain_path)?;
    let (mut sv, mut sp) = (Vec::new(), Vec::new());
    for r in 0..runs {
        let mut edited = incidents[(r * 7919) % incidents.len()].clone();
        edited
            .summary
            .push_str(" Update: the victim was released on bail.");
        sv.push(timed(|| Ok(vault.update_incident(&edited)?))?.1);
        sp.push(timed(|| db.update_incident(&edited))?.1);
    }
    vault.close()?;
    db.close()?;
    let (sv, sp) = (Samples::new(sv), Samples::new(sp));
    Ok(vec![Row::time(
        format!("save one edited incident (`update_incident`) in the full vault, median of {runs}"),
        sv.pct(50.0),
        Some(sp.pct(50.0)),
    )])
}
