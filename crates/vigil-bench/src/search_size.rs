//! Search (section 3 of the report) and size on disk (section 5): the vault against plain SQLite.

use super::*;

// ---------------------------------------------------------------------------------------------
// 3. Search

pub(crate) fn bench_search(dbs: &Databases, sizes: Sizes) -> Result<Section> {
    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let vault = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
    let db = PlainDb::open(&dbs.plain_path)?;
    let n = sizes.incidents as f64;

    let queries: [(&str, String); 4] = [
        ("rare word", workload::RARE_WORD.to_owned()),
        ("common word", workload::COMMON_WORD.to_owned()),
        ("prefix", workload::PREFIX.to_owned()),
        (
            "two words",
            format!("{} {}", workload::COMMON_WORD, workload::PREFIX),
        ),
    ];
    let mut rows = Vec::new();
    let mut all_v = Vec::new();
    let mut all_p = Vec::new();
    for (label, q) in &queries {
        progress(&format!("search: {q:?}"));
        let fts = vigil_store::sql::fts_query(q).context("empty query")?;
        let matching: i64 = db.conn().query_row(
            "SELECT count(DISTINCT incident) FROM search_index WHERE search_index MATCH ?1",
            [&fts],
            |r| r.get(0),
        )?;
        // Both sides must do the same work: the same hits, in the same order.
        let found_v = vault.search(q, 50)?;
        let found_p = db.search(q, 50)?;
        if found_v != found_p {
            bail!("search {q:?}: the vault and plain SQLite return different hits");
        }
        let hits_v = found_v.len();
        // Warm-up, then alternate so that both sides see the same background load.
        let mut sv = Vec::new();
        let mut sp = Vec::new();
        for i in 0..sizes.searches + 3 {
            let (_, tv) = timed(|| Ok(vault.search(q, 50)?))?;
            let (_, tp) = timed(|| db.search(q, 50))?;
            if i >= 3 {
                sv.push(tv);
                sp.push(tp);
            }
        }
        all_v.extend(&sv);
        all_p.extend(&sp);
        let (sv, sp) = (Samples::new(sv), Samples::new(sp));
        let what = format!(
            "{label} `{q}` ({:.1}% of incidents, {hits_v} hits)",
            matching as f64 * 100.0 / n
        );
        rows.push(Row::time(
            format!("{what}: p50"),
            sv.pct(50.0),
            Some(sp.pct(50.0)),
        ));
        let p95 = sv.pct(95.0);
        rows.push(
            Row::time(format!("{what}: p95"), p95, Some(sp.pct(95.0)))
                .target("< 20 ms", Verdict::of(p95 < Duration::from_millis(20))),
        );
    }
    let (av, ap) = (Samples::new(all_v), Samples::new(all_p));
    rows.push(Row::time(
        "all queries: p50",
        av.pct(50.0),
        Some(ap.pct(50.0)),
    ));
    rows.push(
        Row::time("all queries: p95", av.pct(95.0), Some(ap.pct(95.0))).target(
            "< 20 ms",
            Verdict::of(av.pct(95.0) < Duration::from_millis(20)),
        ),
    );
    vault.close()?;
    db.close()?;
    let note = format!(
        "`Vault::search(query, 50)` over {} incidents (one index row per incident and per \
         party, no log rows yet) against `sql::search` (the same FTS5 query, join, ordering and \
         de-duplication) on plain SQLite, after checking that both return the same hits; {} timed runs per query after 3 warm-up runs, Vigil and plain \
         alternating, {} samples per side in the last two rows; the last word of each query is \
         a prefix, as in the app.",
        count(n),
        sizes.searches,
        av.len()
    );
    Ok((3, "3. Full-text search".to_owned(), rows, note))
}

// ---------------------------------------------------------------------------------------------
// 5. Size on disk

pub(crate) fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map_or(0, |m| m.len())
}

pub(crate) fn bench_size(dbs: &Databases, sizes: Sizes) -> Result<Section> {
    // Both were closed with a TRUNCATE checkpoint, so the -wal files are empty or absent.
    let vault_db =
        file_len(&dbs.vault_dir.join("vault.db")) + file_len(&dbs.vault_dir.join("vault.db-wal"));
    let vault_all = vault_db + file_len(&Vault::key_header_path(&dbs.vault_dir));
    let plain_db = file_len(&dbs.plain_path) + file_len(&plain_wal(&dbs.plain_path));
    if vault_db == 0 || plain_db == 0 {
        bail!("a database file is missing");
    }
    let n = sizes.incidents as f64;
    let rows = vec![
        Row::values(
            "database on disk",
            mib(vault_all),
            mib(plain_db),
            vault_all as f64,
            plain_db as f64,
        ),
        Row::values(
            "bytes per incident",
            count(vault_all as f64 / n),
            count(plain_db as f64 / n),
            vault_all as f64,
            plain_db as f64,
        ),
    ];
    let note = format!(
        "File sizes after the bulk insert of {} incidents and a `wal_checkpoint(TRUNCATE)` on \
         close, before any log appends: `vault.db` plus `vault.key` against the plain database \
         file (the same page size, 4096 bytes; SQLCipher reserves 80 bytes per page for the IV \
         and HMAC).",
        count(n)
    );
    Ok((5, "5. Size on disk".to_owned(), rows, note))
}

pub(crate) fn plain_wal(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}
