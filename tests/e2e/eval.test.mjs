// `betterdev eval --beir DIR` on a small BEIR-format dataset made here: each query has one
// document that answers it and others that share a word or two, so a working keyword leg
// ranks every answer first.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { runBinary, tempDir } from './helpers.mjs';
import { makePdf } from './pdfgen.mjs';

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

  test('--qa reads PDFs through the job process and scores the answers\' figures in retrieval and the answer', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'docs'));
    // Two filings whose figures a question asks for; one answer without figures (left out).
    fs.writeFileSync(path.join(dir, 'docs', '2023 Q1 ACME.pdf'), makePdf([
      ['Acme Corporation quarterly report.', 'Total net sales were $82,959 million in the quarter.', 'Employees work in Springfield.'],
      ['Operating expenses grew 12.5% over the prior year.', 'The company opened two new offices.'],
    ]));
    fs.writeFileSync(path.join(dir, 'docs', '2023 Q1 BOLT.pdf'), makePdf([
      ['Bolt Industries quarterly report.', 'Total net sales were $1,234 million in the quarter.'],
    ]));
    const csv = '\ufeffQuestion,Source Docs,Question Type,Source Chunk Type,Answer\n' +
      'What were Acme\'s total net sales?,*ACME*,Single-Doc Single-Chunk RAG,Table,"Acme\'s total net sales were $82,959 million.\n\nSOURCE(S): 2023 Q1 ACME.pdf"\n' +
      'How much did Acme\'s operating expenses grow?,*ACME*,Single-Doc Single-Chunk RAG,Text,"They grew 12.5% (SOURCE: 2023 Q1 ACME.pdf)."\n' +
      'Where do Acme employees work?,*ACME*,Single-Doc Single-Chunk RAG,Text,They work in Springfield.\n' +
      'What were Bolt\'s total net sales?,*BOLT*,Single-Doc Single-Chunk RAG,Table,"$1,234 million"\n';
    fs.writeFileSync(path.join(dir, 'qna_data.csv'), csv);
    const r = await runBinary(['eval', '--qa', dir], { timeoutMs: 120000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 filings, 3 pages -> \d+ chunks .*; 4 questions, 3 with figures/);
    const row = (name) => {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`| ${name} `));
      assert.ok(line, `no row ${name}: ${r.stdout}`);
      return line.split('|').map((c) => c.trim());
    };
    assert.equal(Number(row('keyword')[2]), 1, 'every figure is in the top 3 keyword chunks');
    assert.equal(Number(row('hybrid')[3]), 1);
    assert.equal(Number(row('extractive answer (hybrid top 3)')[2]), 1, 'the extractive answer quotes the figures');
    assert.equal(Number(row('all chunks of the source documents (ceiling)')[2]), 1);
    const missing = await runBinary(['eval', '--qa', tempDir()]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /qna_data\.csv/);
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
