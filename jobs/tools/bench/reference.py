"""A single-node reference of the DIP catalogue and case points (SPEC 5.1-5.2) in DuckDB.

    diplake bench-reference --year 2025 [--out DIR] [--threads N]

Reads the same silver Delta tables as the Spark jobs (the files of their current
versions, listed by delta-rs), computes the per-case keys, the types, the
per-type aggregates and the points in DuckDB SQL, and finishes the catalogue with
the same exact arithmetic as the Spark job (:func:`jobs.dip.catalogue.compute`),
so the two can be compared figure by figure. Points are exact integers in SQL
(HUGEINT), rounded half-up once, as in :mod:`jobs.dip.points`. Nothing is
written to the lake; the command writes its catalogue and points to ``--out`` as
Parquet, so the benchmark can time it as a whole process (start, imports, reads,
SQL, writes) beside the Spark commands, which do the same and more.

It exists to answer two questions: how much does Spark cost on one machine
against a single-node engine, and do both read SPEC 5 the same way.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobs import lake
from jobs.config import Config

if TYPE_CHECKING:
    import pandas as pd

REVIEW_SHARE = (5, 1000)
REVIEW_RATIO = 5


def delta_files(path: str) -> str:
    """The Parquet files of a Delta table's current version, as a DuckDB list literal."""
    from deltalake import DeltaTable

    paths = [uri.removeprefix("file://") for uri in DeltaTable(path).file_uris()]
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _keys_sql(source: str) -> str:
    """Per-case diag4, diag3, proc_key, proc_codes, proc_class of the cases in ``source``.

    Procedures: duplicates dropped keeping the first occurrence, the principal first;
    proc_key: the S/T codes, the principal first when it is S/T, then ascending,
    capped at 3, joined with '+'; proc_class: the principal procedure's class, else C.
    """
    return f"""
    WITH px AS (
        SELECT case_id, code, min(pos) AS pos
        FROM (
            SELECT case_id, unnest(procedures) AS code,
                   generate_subscripts(procedures, 1) AS pos
            FROM {source}
        )
        GROUP BY case_id, code
    ),
    classed AS (
        SELECT px.case_id, px.code, px.pos, c.class,
               px.pos = min(px.pos) OVER (PARTITION BY px.case_id) AS principal
        FROM px LEFT JOIN classes c ON c.code = px.code
    ),
    st AS (
        SELECT case_id, code,
               row_number() OVER (
                   PARTITION BY case_id ORDER BY (NOT principal), code
               ) AS rank
        FROM classed WHERE class IN ('S', 'T')
    ),
    keyed AS (
        SELECT case_id,
               string_agg(code, '+' ORDER BY rank) AS proc_key,
               list(code ORDER BY rank) AS proc_codes
        FROM st WHERE rank <= 3 GROUP BY case_id
    ),
    principal AS (
        SELECT case_id, class AS proc_class FROM classed WHERE principal
    )
    SELECT s.*,
           substr(s.principal_dx, 1, 5) AS diag4,
           substr(s.principal_dx, 1, 3) AS diag3,
           coalesce(k.proc_key, '') AS proc_key,
           coalesce(k.proc_codes, []::VARCHAR[]) AS proc_codes,
           coalesce(h.proc_class, 'C') AS proc_class
    FROM {source} s
    LEFT JOIN keyed k USING (case_id)
    LEFT JOIN principal h USING (case_id)
    """


@dataclass
class Reference:
    catalogue: pd.DataFrame  # dip_code, type_kind, case_count, avg_cost, rw, cv
    coefficients: dict[int, object]
    overall: object
    points: pd.DataFrame  # case_id, dip_code, match_kind, case_class, points_u, special_review
    seconds: dict[str, float]


def run(cfg: Config, year: int, threads: int | None = None) -> Reference:
    import duckdb
    import pandas as pd

    from jobs.dip.catalogue import Params, compute

    params = Params(year)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    files = {
        name: delta_files(lake.table_path(cfg, "silver", name))
        for name in ("discharges", "procedure_classes", "institutions")
    }
    con.execute(
        "CREATE TEMP TABLE classes AS SELECT code, class "
        f"FROM read_parquet({files['procedure_classes']})"
    )
    con.execute(
        "CREATE TEMP TABLE levels AS SELECT institution_code AS hospital_code, level "
        f"FROM read_parquet({files['institutions']}) WHERE type = 'hospital'"
    )
    con.execute(
        "CREATE TEMP VIEW discharges AS SELECT case_id, hospital_code, discharge_year, "
        f"principal_dx, procedures, total_cost FROM read_parquet({files['discharges']})"
    )
    years = ", ".join(str(y) for y in params.base_years)
    con.execute(
        f"CREATE TEMP TABLE base_src AS SELECT * FROM discharges WHERE discharge_year IN ({years})"
    )
    con.execute(f"CREATE TEMP TABLE base AS {_keys_sql('base_src')}")
    con.execute(
        f"""
        CREATE TEMP TABLE typed AS
        WITH core AS (
            SELECT diag4, proc_key FROM base GROUP BY ALL HAVING count(*) >= {params.threshold}
        )
        SELECT b.*, l.level,
               CASE WHEN c.diag4 IS NOT NULL THEN 'core' ELSE 'comprehensive' END AS type_kind,
               CASE WHEN c.diag4 IS NOT NULL THEN b.diag4 || '|' || b.proc_key
                    ELSE b.diag3 || '|*|' || b.proc_class END AS dip_code
        FROM base b
        LEFT JOIN core c ON c.diag4 = b.diag4 AND c.proc_key = b.proc_key
        LEFT JOIN levels l ON l.hospital_code = b.hospital_code
        """
    )
    cells = con.execute(
        "SELECT dip_code, discharge_year, level, count(*) AS n, "
        "CAST(sum(total_cost) AS VARCHAR) AS cost "  # exact: .df() makes DECIMAL a float
        "FROM typed GROUP BY ALL"
    ).df()
    types = con.execute(
        "SELECT dip_code, any_value(type_kind) AS type_kind, count(*) AS case_count, "
        "stddev_samp(total_cost::DOUBLE) / avg(total_cost::DOUBLE) AS cv "
        "FROM typed GROUP BY dip_code"
    ).df()
    avg_cost, overall, rw, k = compute(cells, params)
    types["avg_cost"] = types.dip_code.map(avg_cost)
    types["rw"] = types.dip_code.map(rw)
    seconds["catalogue"] = time.monotonic() - started

    started = time.monotonic()
    con.register("catalogue_df", types[["dip_code", "type_kind", "avg_cost", "rw"]].astype(str))
    con.execute(
        """
        CREATE TEMP TABLE catalogue AS
        SELECT dip_code, type_kind,
               CAST(avg_cost AS DECIMAL(18,2)) AS avg_cost, CAST(rw AS DECIMAL(18,4)) AS rw,
               split_part(dip_code, '|', 1) AS diag_key,
               CASE WHEN type_kind = 'core' THEN split_part(dip_code, '|', 2) END AS proc_key,
               CASE WHEN type_kind = 'comprehensive' THEN split_part(dip_code, '|', 3) END
                   AS proc_class
        FROM catalogue_df
        """
    )
    con.register("k_df", pd.DataFrame({"level": list(k), "k": [str(v) for v in k.values()]}))
    con.execute(
        "CREATE TEMP TABLE k_by_level AS SELECT level, CAST(k AS DECIMAL(10,4)) AS k FROM k_df"
    )
    con.execute(
        f"CREATE TEMP TABLE year_src AS SELECT * FROM discharges WHERE discharge_year = {int(year)}"
    )
    con.execute(f"CREATE TEMP TABLE cases AS {_keys_sql('year_src')}")
    m_u = int(overall * 100)  # M has 2 places: exact
    con.execute(
        f"""
        CREATE TEMP TABLE scored AS
        WITH matched AS (
            SELECT c.case_id, c.hospital_code, c.total_cost, l.level,
                   CASE WHEN f.dip_code IS NOT NULL THEN 'core'
                        WHEN p.dip_code IS NOT NULL THEN 'core_partial'
                        WHEN m.dip_code IS NOT NULL THEN 'comprehensive'
                        ELSE 'unmatched' END AS match_kind,
                   coalesce(f.dip_code, p.dip_code, m.dip_code) AS dip_code,
                   coalesce(f.avg_cost, p.avg_cost, m.avg_cost) AS avg_cost,
                   coalesce(f.rw, p.rw, m.rw) AS type_rw
            FROM cases c
            LEFT JOIN levels l ON l.hospital_code = c.hospital_code
            LEFT JOIN catalogue f
                   ON f.type_kind = 'core' AND f.diag_key = c.diag4 AND f.proc_key = c.proc_key
            LEFT JOIN catalogue p
                   ON p.type_kind = 'core' AND p.diag_key = c.diag4
                  AND len(c.proc_codes) >= 2 AND p.proc_key = c.proc_codes[1]
            LEFT JOIN catalogue m
                   ON m.type_kind = 'comprehensive' AND m.diag_key = c.diag3
                  AND m.proc_class = c.proc_class
        ),
        exact AS (  -- integers: fen, and RW and K in units of 10^-4
            SELECT x.*,
                   CAST(x.total_cost * 100 AS HUGEINT) AS cost_u,
                   CAST(x.avg_cost * 100 AS HUGEINT) AS avg_u,
                   CAST(x.type_rw * 10000 AS HUGEINT) AS rw_u,
                   CAST(coalesce(k.k, 1) * 10000 AS HUGEINT) AS k_u
            FROM matched x LEFT JOIN k_by_level k ON k.level = x.level
        ),
        classed AS (
            SELECT *,
                   CASE WHEN match_kind = 'unmatched' THEN 'unmatched'
                        WHEN 2 * cost_u * 10000 < avg_u * k_u THEN 'low'
                        WHEN cost_u * 10000 > 2 * avg_u * k_u THEN 'high'
                        ELSE 'normal' END AS case_class
            FROM exact
        )
        SELECT case_id, dip_code, match_kind, case_class,
               -- points x 10^4, each rounded half-up once: floor((2n + d) / 2d)
               CAST(CASE case_class
                   WHEN 'unmatched' THEN
                       (2 * cost_u * {params.rw_scale} * 10000 + {m_u}) // (2 * {m_u})
                   WHEN 'low' THEN (2 * rw_u * cost_u + avg_u) // (2 * avg_u)
                   WHEN 'high' THEN
                       (2 * (rw_u * cost_u * 10000 - rw_u * k_u * avg_u) + avg_u * 10000)
                       // (2 * avg_u * 10000)
                   ELSE (2 * rw_u * k_u + 10000) // 20000 END AS BIGINT) AS points_u,
               match_kind <> 'unmatched' AND cost_u * 10000 > {REVIEW_RATIO} * avg_u * k_u
                   AS candidate,
               CASE WHEN match_kind <> 'unmatched'
                    THEN cost_u * CAST('1000000000000000000' AS HUGEINT) // (avg_u * k_u)
               END AS ratio_key
        FROM classed
        """
    )
    n_cases = con.execute("SELECT count(*) FROM scored").fetchone()[0]
    quota = n_cases * REVIEW_SHARE[0] // REVIEW_SHARE[1]
    points = con.execute(
        f"""
        WITH review AS (
            SELECT case_id FROM scored WHERE candidate
            ORDER BY ratio_key DESC, case_id LIMIT {int(quota)}
        )
        SELECT s.case_id, s.dip_code, s.match_kind, s.case_class, s.points_u,
               r.case_id IS NOT NULL AS special_review
        FROM scored s LEFT JOIN review r USING (case_id)
        """
    ).df()
    seconds["points"] = time.monotonic() - started
    con.close()
    return Reference(
        catalogue=types,
        coefficients=k,
        overall=overall,
        points=points,
        seconds=seconds,
    )


def write(ref: Reference, out: Path) -> None:
    """The reference's catalogue and case points as Parquet files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ref.catalogue.astype({"avg_cost": str, "rw": str}).to_parquet(out / "dip_catalogue.parquet")
    ref.points.to_parquet(out / "dip_case_points.parquet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, required=True, help="settlement year Y")
    parser.add_argument(
        "--out", type=Path, help="folder for the Parquet results (default <home>/bench-reference)"
    )
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: every core)")


def command(cfg: Config, args: argparse.Namespace) -> int:
    ref = run(cfg, args.year, args.threads)
    out = args.out or cfg.home / "bench-reference"
    write(ref, out)
    print(
        json.dumps(
            {
                "seconds": {k: round(v, 2) for k, v in ref.seconds.items()},
                "types": len(ref.catalogue),
                "cases": len(ref.points),
                "out": str(out),
            }
        )
    )
    return 0
