#!/usr/bin/env bash
# pgvector's HNSW against exact search (not a test), with the index definition and the query
# shape the product uses (store/postgres/pg_retrieval.cpp: cosine ops, m 16, ef_construction 64,
# filtered by owner with iterative scans in relaxed order, depth 50 re-sorted, top 10 kept):
# recall@10 and ms/query at several hnsw.ef_search, for `vector(d)` and for `halfvec(d)`, with
# build times and index sizes.
#
# Vectors: NFCorpus's chunks embedded by the product's default embedder (loaded by `betterdev
# eval`, ~16k), plus perturbed copies (Gaussian-ish noise, renormalised) up to ~100k: near
# duplicates make neighbours harder to tell apart than in real text, so this errs low. User a
# owns 90% of them, user b every tenth row (a filtered search among many other users' vectors).
# Queries: 200 stored vectors, perturbed.
#   bash bench/pgvector_recall_bench.sh [copies = 6] [dimension = 1024, the offline embedder's]
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES="${1:-6}"
DIM="${2:-1024}"
source bench/lib.sh
bench_init
trap 'stop_postgres; bench_cleanup' EXIT
machine_line
start_postgres
URL_DB="$(pg_database recall)"
"$BIN" eval --beir "$DATA/beir/nfcorpus" --service pgvector --database-url "$URL_DB" --dimension "$DIM" >"$WORK/eval.txt"
psql_run() { PGOPTIONS="-c search_path=public,extensions" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U betterdev -d recall -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_run <<SQL
SET maintenance_work_mem = '512MB';
CREATE FUNCTION perturb(v vector, amount float8) RETURNS vector LANGUAGE sql AS \$\$
  SELECT array_agg(x / norm ORDER BY o)::vector FROM (
    SELECT x, o, sqrt(sum(x * x) OVER ()) AS norm FROM (
      SELECT val + (random() + random() + random() - 1.5) * amount AS x, o
      FROM unnest(v::real[]) WITH ORDINALITY AS t(val, o)) s) s2
\$\$;
CREATE TABLE rv (id bigserial PRIMARY KEY, user_id text NOT NULL, e vector($DIM) NOT NULL);
INSERT INTO rv (user_id, e) SELECT 'a', embedding::vector($DIM) FROM chunk_vectors WHERE dimension = $DIM;
INSERT INTO rv (user_id, e)
  SELECT 'a', perturb(e, 0.6 / sqrt($DIM)) FROM rv, generate_series(2, $COPIES) ORDER BY random();
UPDATE rv SET user_id = 'b' WHERE id % 10 = 0;
CREATE INDEX rv_owner ON rv (user_id);
CREATE TABLE rq AS SELECT row_number() OVER () AS qid, perturb(e, 0.3 / sqrt($DIM)) AS q FROM (SELECT e FROM rv ORDER BY random() LIMIT 200) s;
ANALYZE rv;
SQL
N=$(psql_run -c "SELECT count(*) FROM rv")
NB=$(psql_run -c "SELECT count(*) FROM rv WHERE user_id = 'b'")
build() {  # name expression ops -> "ms bytes"
  local t0 t1
  t0=$(now_ms)
  psql_run -c "SET maintenance_work_mem = '512MB'; CREATE INDEX $1 ON rv USING hnsw ($2 $3)"
  t1=$(now_ms)
  echo "$((t1 - t0)) $(psql_run -c "SELECT pg_relation_size('$1')")"
}
read -r VEC_MS VEC_BYTES < <(build rv_vec "e" vector_cosine_ops)
read -r HALF_MS HALF_BYTES < <(build rv_half "(e::halfvec($DIM))" halfvec_cosine_ops)
psql_run <<SQL
-- The exact top 10 of each query for each user (no index).
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TABLE truth AS
  SELECT qid, u, (SELECT array_agg(id ORDER BY d, id) FROM (
    SELECT id, e <=> q AS d FROM rv WHERE user_id = u ORDER BY e <=> q, id LIMIT 10) s) AS ids
  FROM rq, (VALUES ('a'), ('b')) AS v(u);
RESET enable_indexscan;
RESET enable_bitmapscan;
-- The product's query: depth 50 through the index, re-sorted, top 10; recall against truth.
CREATE FUNCTION measure(owner text, ef int, expr text) RETURNS TABLE (recall float8, ms float8) LANGUAGE plpgsql AS \$\$
DECLARE
  t record; got bigint[]; hits int := 0; total int := 0; t0 timestamptz; spent float8 := 0;
BEGIN
  PERFORM set_config('hnsw.ef_search', ef::text, true);
  PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
  FOR t IN SELECT truth.qid, truth.ids, rq.q FROM truth JOIN rq USING (qid) WHERE truth.u = owner LOOP
    t0 := clock_timestamp();
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM (SELECT id, %1\$s <=> %2\$L::vector::%3\$s AS d FROM rv '
                   'WHERE user_id = %4\$L ORDER BY %1\$s <=> %2\$L::vector::%3\$s LIMIT 50) s ORDER BY d LIMIT 10) s2',
                   expr, t.q::text, CASE WHEN expr = 'e' THEN 'vector' ELSE 'halfvec' END, owner) INTO got;
    spent := spent + extract(epoch FROM clock_timestamp() - t0) * 1000;
    hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (t.ids));
    total := total + cardinality(t.ids);
  END LOOP;
  RETURN QUERY SELECT hits::float8 / total, spent / (SELECT count(*) FROM truth WHERE truth.u = owner);
END
\$\$;
SQL
# The plans: user a's goes through the HNSW indexes (else recall would be 1 and nothing
# measured); user b's may not (at 1,024 dimensions the planner reads b's rows by owner and sorts
# them: exact, as the product's small-scope rule would).
plan() {  # user expression cast -> "HNSW" or "exact"
  psql_run -c "SET hnsw.iterative_scan = relaxed_order; EXPLAIN SELECT id FROM rv WHERE user_id = '$1' ORDER BY $2 <=> (SELECT q FROM rq LIMIT 1)::$3 LIMIT 50" |
    grep -q "rv_vec\|rv_half" && echo HNSW || echo exact
}
[ "$(plan a e vector)" = HNSW ] || { echo "user a's vector query does not use the HNSW index" >&2; exit 1; }
[ "$(plan a "(e::halfvec($DIM))" "halfvec($DIM)")" = HNSW ] || { echo "user a's halfvec query does not use the HNSW index" >&2; exit 1; }
PLAN_B="vector: $(plan b e vector), halfvec: $(plan b "(e::halfvec($DIM))" "halfvec($DIM)")"
echo "Vectors: $N of $DIM dimensions (NFCorpus chunks, local-hash-v1, x$COPIES with perturbed copies); user b owns $NB (every tenth)"
echo "User b's plans: $PLAN_B"
echo
echo "| index | build | size |"
echo "|---|---|---|"
echo "| vector($DIM), vector_cosine_ops | $((VEC_MS / 1000)) s | $((VEC_BYTES / 1048576)) MB |"
echo "| halfvec($DIM), halfvec_cosine_ops | $((HALF_MS / 1000)) s | $((HALF_BYTES / 1048576)) MB |"
echo
echo "| hnsw.ef_search | user | vector recall@10 | vector ms/query | halfvec recall@10 | halfvec ms/query |"
echo "|---|---|---|---|---|---|"
for EF in 40 100 200; do
  for U in a b; do
    V=$(psql_run -F' ' -c "SELECT round(recall::numeric, 3), round(ms::numeric, 2) FROM measure('$U', $EF, 'e')")
    H=$(psql_run -F' ' -c "SELECT round(recall::numeric, 3), round(ms::numeric, 2) FROM measure('$U', $EF, '(e::halfvec($DIM))')")
    read -r VR VM <<<"$V"
    read -r HR HM <<<"$H"
    echo "| $EF | $U ($( [ "$U" = a ] && echo "$((N - NB))" || echo "$NB") vectors) | $VR | $VM | $HR | $HM |"
  done
done
