// `betterdev eval --beir DIR` on a small BEIR-format dataset made here: each query has one
// document that answers it and others that share a word or two, so a working keyword leg
// ranks every answer first.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { runBinary, tempDir } from './helpers.mjs';

function writeBeir(dir) {
  const docs = [
    ['d1', 'Vitamin D and bone health', 'Vitamin D deficiency weakens bones in older adults; supplements restore density.'],
    ['d2', 'Railway timetables', 'The northern line runs every six minutes at peak times between the stations.'],
    ['d3', 'Green tea and sleep', 'Caffeine in green tea can delay sleep onset when taken in the evening.'],
    ['d4', 'Bone broth myths', 'Broth made from bones contains little calcium despite popular claims.'],
    ['d5', 'Evening trains', 'Late trains on the northern line are less frequent after midnight.'],
    ['d6', 'Tea ceremonies', 'The Japanese tea ceremony values harmony, respect and tranquillity.'],
  ];
  fs.writeFileSync(path.join(dir, 'corpus.jsonl'), docs.map(([id, title, text]) => JSON.stringify({ _id: id, title, text })).join('\n') + '\n');
  const queries = [
    ['q1', 'does vitamin D supplementation help bone density'],
    ['q2', 'how often does the northern line run at peak'],
    ['q3', 'caffeine in green tea and sleep'],
    ['q4', 'a query without judgements'],
  ];
  fs.writeFileSync(path.join(dir, 'queries.jsonl'), queries.map(([id, text]) => JSON.stringify({ _id: id, text })).join('\n') + '\n');
  fs.mkdirSync(path.join(dir, 'qrels'));
  fs.writeFileSync(path.join(dir, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\nq3\td3\t1\n');
}

describe('betterdev eval', () => {
  test('prints nDCG@10 and recall@100 for keyword, vector and hybrid; a clear win scores 1', async () => {
    const dir = tempDir();
    writeBeir(dir);
    const r = await runBinary(['eval', '--beir', dir], { timeoutMs: 60000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /6 documents -> 6 chunks .* 3 queries/);
    const rows = Object.fromEntries(
      r.stdout
        .split('\n')
        .filter((l) => /^\| (keyword|vector|hybrid)/.test(l))
        .map((l) => {
          const cells = l.split('|').map((c) => c.trim());
          return [cells[1].split(' ')[0], { ndcg: Number(cells[2]), recall: Number(cells[3]) }];
        }),
    );
    assert.deepEqual(Object.keys(rows).sort(), ['hybrid', 'keyword', 'vector']);
    assert.equal(rows.keyword.ndcg, 1);
    assert.equal(rows.hybrid.ndcg, 1);
    assert.ok(rows.vector.ndcg > 0.5, `vector nDCG ${rows.vector.ndcg}`);
    for (const m of Object.values(rows)) assert.equal(m.recall, 1);
  });

  test('a folder that is not a BEIR dataset is exit 2 with a message', async () => {
    const r = await runBinary(['eval', '--beir', tempDir()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read .*qrels\/test\.tsv/);
    const missing = await runBinary(['eval']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--beir/);
  });
});
