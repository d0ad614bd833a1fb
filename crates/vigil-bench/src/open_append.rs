//! Open to the first page (section 4 of the report) and durable appends (section 1): the vault
//! against plain SQLite.

use super::*;

// ---------------------------------------------------------------------------------------------
// 4. Open to first page

fn first_page(vault: &Vault) -> Result<usize> {
    Ok(vault.list_incidents(&first_page_query())?.len())
}

fn first_page_query() -> ListQuery {
    ListQuery {
        limit: 50,
        ..ListQuery::default()
    }
}

pub(crate) fn bench_open(work: &Path, dbs: &Databases, sizes: Sizes) -> Result<Section> {
    // What calibration picks on this machine: create a vault the way the app does.
    progress("open: calibrating the KDF (KdfChoice::Calibrate)");
    let probe_dir = work.join("calibrated-probe");
    let (probe, t_create) = timed(|| {
        Ok(Vault::create(
            &probe_dir,
            &pass(),
            KdfChoice::Calibrate,
            clock(),
        )?)
    })?;
    probe.close()?;
    let calibrated =
        KeyHeader::from_json(&fs::read_to_string(Vault::key_header_path(&probe_dir))?)?.params();

    // The same database under a header sealed with the calibrated parameters.
    let cal_dir = work.join("vault-calibrated");
    fs::create_dir(&cal_dir)?;
    fs::create_dir(cal_dir.join("blobs"))?;
    fs::copy(dbs.vault_dir.join("vault.db"), cal_dir.join("vault.db"))?;
    let header =
        KeyHeader::from_json(&fs::read_to_string(Vault::key_header_path(&dbs.vault_dir))?)?;
    let resealed = header.rewrap(&pass(), &pass(), calibrated)?;
    vigil_store::write_atomic(
        &Vault::key_header_path(&cal_dir),
        resealed.to_json().as_bytes(),
    )?;

    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let (mut floor, mut cal, mut nokdf, mut plain) = (vec![], vec![], vec![], vec![]);
    let (mut unwrap_floor, mut unwrap_cal) = (vec![], vec![]);
    for run in 0..sizes.opens {
        progress(&format!("open: run {} of {}", run + 1, sizes.opens));
        let (rows, t) = timed(|| {
            let v = Vault::open(&dbs.vault_dir, &pass(), clock())?;
            let n = first_page(&v)?;
            Ok((v, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        floor.push(t);

        let (rows, t) = timed(|| {
            let v = Vault::open(&cal_dir, &pass(), clock())?;
            let n = first_page(&v)?;
            Ok((v, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        cal.push(t);

        let (rows, t) = timed(|| {
            let v = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
            let n = first_page(&v)?;
            Ok((v, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        nokdf.push(t);

        let (rows, t) = timed(|| {
            let db = PlainDb::open(&dbs.plain_path)?;
            let n = db.list_incidents(&first_page_query())?.len();
            Ok((db, n))
        })?;
        check_page(rows.1)?;
        rows.0.close()?;
        plain.push(t);

        unwrap_floor.push(timed(|| Ok(Vault::unwrap_key(&dbs.vault_dir, &pass())?))?.1);
        unwrap_cal.push(timed(|| Ok(Vault::unwrap_key(&cal_dir, &pass())?))?.1);
    }
    let med = |v: Vec<Duration>| Samples::new(v).pct(50.0);
    let plain_med = med(plain);
    let uc = med(unwrap_cal);
    let p = |k: KdfParams| format!("m={} MiB, t={}, p={}", k.m_kib / 1024, k.t, k.p);
    let rows = vec![
        Row::time(
            format!(
                "`Vault::open` + first page, floor KDF ({})",
                p(KdfParams::FLOOR)
            ),
            med(floor),
            Some(plain_med),
        ),
        Row::time(
            format!(
                "`Vault::open` + first page, calibrated KDF ({})",
                p(calibrated)
            ),
            med(cal),
            Some(plain_med),
        ),
        Row::time(
            "`open_with_key` + first page (no KDF)",
            med(nokdf),
            Some(plain_med),
        ),
        Row::time("of which `unwrap_key`, floor KDF", med(unwrap_floor), None),
        Row::time("of which `unwrap_key`, calibrated KDF", uc, None).target(
            "0.5–1 s (calibration aim)",
            Verdict::of(uc >= Duration::from_millis(450) && uc <= Duration::from_millis(1100)),
        ),
        Row::time(
            "`Vault::create` with `KdfChoice::Calibrate` (empty)",
            t_create,
            None,
        ),
    ];
    let note = format!(
        "Median of {} runs, OS page cache warm, over the {}-incident databases: from nothing open \
         to the first 50 rows of `list_incidents` (JSON parsed), against plain SQLite open + \
         `sql::configure` + `sql::migrate` + the device row + `sql::list_incidents`; the calibrated vault is the same \
         `vault.db` with its key header resealed (public `KeyHeader::rewrap`) under the \
         parameters `KdfChoice::Calibrate` chose in the last row. `Vault::open` also runs \
         `cipher_integrity_check`, which reads and authenticates every page.",
        sizes.opens,
        count(sizes.incidents as f64)
    );
    Ok((
        4,
        "4. Open to first page after unlock".to_owned(),
        rows,
        note,
    ))
}

fn check_page(n: usize) -> Result<()> {
    if n != 50 {
        bail!("the first page has {n} rows, expected 50");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1. Durable append

pub(crate) fn bench_append(
    dbs: &Databases,
    incidents: &[Incident],
    sizes: Sizes,
) -> Result<Section> {
    progress(&format!(
        "append: {} durable log entries per side",
        sizes.appends
    ));
    let key = Vault::unwrap_key(&dbs.vault_dir, &pass())?;
    let mut vault = Vault::open_with_key(&dbs.vault_dir, &key, clock())?;
    let mut db = PlainDb::open(&dbs.plain_path)?;
    // A monitor writes into a few live incidents, the newest ones.
    let targets: Vec<_> = incidents.iter().rev().take(20).map(|i| i.id).collect();
    let mut rng = workload::Rng::new(SEED ^ 0xA99E);
    let notes: Vec<String> = (0..sizes.appends + 20)
        .map(|_| workload::log_note(&mut rng))
        .collect();

    let (mut sv, mut sp) = (Vec::new(), Vec::new());
    const BLOCK: usize = 50;
    const WARMUP: usize = 10;
    let mut done = 0;
    let mut k = 0;
    while done < sizes.appends + WARMUP {
        let block = BLOCK.min(sizes.appends + WARMUP - done);
        for j in 0..block {
            let (inc, text, flagged) = (
                targets[(k + j) % targets.len()],
                &notes[(k + j) % notes.len()],
                (k + j) % 17 == 0,
            );
            let (_, t) = timed(|| Ok(vault.append_log(inc, text, flagged)?))?;
            if done + j >= WARMUP {
                sv.push(t);
            }
        }
        for j in 0..block {
            let (inc, text, flagged) = (
                targets[(k + j) % targets.len()],
                &notes[(k + j) % notes.len()],
                (k + j) % 17 == 0,
            );
            let (_, t) = timed(|| db.append_log(inc, text, flagged))?;
            if done + j >= WARMUP {
                sp.push(t);
            }
        }
        done += block;
        k += block;
    }
    let logged = vault.log_entries(targets[0])?.len();
    vault.close()?;
    db.close()?;
    if logged == 0 {
        bail!("no log entries were stored");
    }
    let (sv, sp) = (Samples::new(sv), Samples::new(sp));
    let (v99, p99) = (sv.pct(99.0), sp.pct(99.0));
    let rows = vec![
        Row::time("p50", sv.pct(50.0), Some(sp.pct(50.0))),
        Row::time("p99", v99, Some(p99)).target(
            "Vigil ≤ 2× plain",
            Verdict::of(v99.as_secs_f64() <= 2.0 * p99.as_secs_f64()),
        ),
        Row::time("mean", sv.mean(), Some(sp.mean())),
    ];
    let note = format!(
        "{} calls of `Vault::append_log` (after {WARMUP} warm-up calls) into the 20 newest of \
         {} incidents, each an immediate transaction with the existence check, the `seq` \
         lookup, the entry row and its search row and a durable commit (WAL, \
         `synchronous=FULL`, so one fsync of the WAL per call), against `sql::append_log` on \
         plain SQLite, in alternating blocks of {BLOCK}.",
        count(sv.len() as f64),
        count(incidents.len() as f64)
    );
    Ok((
        1,
        "1. Durable save of one running-log entry".to_owned(),
        rows,
        note,
    ))
}
