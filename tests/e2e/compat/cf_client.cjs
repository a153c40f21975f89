// The official `cloudflare` npm client (v7) against edgecached's KV REST routes.
// Usage: node cf_client.cjs <scenario>, with EC_BASE_URL=http://host:port/client/v4 (and
// EC_API_TOKEN when the daemon has api_token). Exits non-zero on the first failed check.
'use strict';
const assert = require('node:assert/strict');
const CloudflareModule = require('cloudflare');

const Cloudflare = CloudflareModule.default ?? CloudflareModule;
const { APIError } = CloudflareModule;
const account_id = '023e105f4ecef8ad9ca31a8372d0c353'; // accepted and ignored
const client = new Cloudflare({
    apiToken: process.env.EC_API_TOKEN || 'not-checked',
    baseURL: process.env.EC_BASE_URL,
    maxRetries: 0,
});
const run = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);

// Awaits a promise that must fail with an APIError of this status and envelope code.
async function rejects(promise, status, code, message) {
    let err;
    try {
        await promise;
    } catch (e) {
        err = e;
    }
    assert.ok(err instanceof APIError, `expected an APIError, got ${err}`);
    assert.equal(err.status, status, String(err));
    assert.equal(err.errors[0].code, code, JSON.stringify(err.errors));
    if (message !== undefined) assert.equal(err.errors[0].message, message);
    return err;
}

async function newNamespace(title) {
    return client.kv.namespaces.create({ account_id, title: `${title}-${run}` });
}

async function text(response) {
    return Buffer.from(await response.arrayBuffer());
}

const scenarios = {
    // Create, get, rename, list with auto-pagination and ordering, delete.
    async namespaces() {
        const made = [];
        for (let i = 0; i < 45; i++) made.push(await newNamespace(`ns${String(i).padStart(2, '0')}`));
        for (const ns of made) {
            assert.match(ns.id, /^[0-9a-f]{32}$/);
            assert.equal(ns.supports_url_encoding, true);
        }
        const got = await client.kv.namespaces.get(made[0].id, { account_id });
        assert.deepEqual(got, made[0]);

        // Auto-pagination over pages of 10 ends on the empty page past the last one.
        const seen = [];
        for await (const ns of client.kv.namespaces.list({ account_id, per_page: 10 }))
            if (ns.title.endsWith(run)) seen.push(ns.title);
        assert.deepEqual(seen, made.map((n) => n.title));
        const page = await client.kv.namespaces.list({ account_id, per_page: 10, page: 1000 });
        assert.deepEqual(page.result, []);

        const byId = [];
        for await (const ns of client.kv.namespaces.list({
            account_id, order: 'id', direction: 'desc', per_page: 1000,
        }))
            byId.push(ns.id);
        assert.deepEqual(byId, [...byId].sort().reverse());

        const renamed = await client.kv.namespaces.update(made[1].id, {
            account_id, title: `renamed-${run}`,
        });
        assert.equal(renamed.id, made[1].id);
        assert.equal(renamed.title, `renamed-${run}`);
        assert.equal((await client.kv.namespaces.get(made[1].id, { account_id })).title,
            `renamed-${run}`);

        // Duplicate titles: on create and on rename.
        await rejects(client.kv.namespaces.create({ account_id, title: made[2].title }), 400, 10014,
            'a namespace with this account ID and title already exists');
        await rejects(client.kv.namespaces.update(made[3].id, { account_id, title: made[2].title }),
            400, 10014);

        for (const ns of made) await client.kv.namespaces.delete(ns.id, { account_id });
        await rejects(client.kv.namespaces.get(made[0].id, { account_id }), 404, 10013);
        for await (const ns of client.kv.namespaces.list({ account_id, per_page: 100 }))
            assert.ok(!ns.title.endsWith(run), `${ns.title} survived its deletion`);
    },

    // Values: raw strings, files, metadata (JSON string; an object's bracket fields are
    // ignored), expirations, awkward key names, deletes.
    async values() {
        const ns = await newNamespace('values');
        const opts = { account_id, namespace_id: ns.id };
        await client.kv.namespaces.values.update('greeting', { ...opts, value: 'Hello, edge' });
        assert.equal((await text(await client.kv.namespaces.values.get('greeting', opts))).toString(),
            'Hello, edge');
        assert.equal(await client.kv.namespaces.metadata.get('greeting', opts), null);

        await client.kv.namespaces.values.update('with-meta', {
            ...opts, value: 'v', metadata: JSON.stringify({ lang: 'en', n: [1, 2] }),
        });
        assert.deepEqual(await client.kv.namespaces.metadata.get('with-meta', opts),
            { lang: 'en', n: [1, 2] });
        // An object becomes metadata[lang]=... form fields, which Cloudflare ignores.
        await client.kv.namespaces.values.update('object-meta', {
            ...opts, value: 'v', metadata: { lang: 'en' },
        });
        assert.equal(await client.kv.namespaces.metadata.get('object-meta', opts), null);

        const bytes = Buffer.from([0, 1, 2, 255, 254, 13, 10, 45, 45]);
        await client.kv.namespaces.values.update('binary', {
            ...opts, value: new File([bytes], 'blob.bin', { type: 'application/octet-stream' }),
        });
        assert.deepEqual(await text(await client.kv.namespaces.values.get('binary', opts)), bytes);

        const before = Math.floor(Date.now() / 1000);
        await client.kv.namespaces.values.update('ttl', { ...opts, value: 't', expiration_ttl: 120 });
        const resp = await client.kv.namespaces.values.get('ttl', opts);
        const exp = Number(resp.headers.get('expiration'));
        assert.ok(exp >= before + 118 && exp <= before + 125, `expiration ${exp}`);
        const abs = before + 3600;
        await client.kv.namespaces.values.update('abs', { ...opts, value: 'a', expiration: abs });
        // The TTL wins over the absolute expiration.
        await client.kv.namespaces.values.update('both', {
            ...opts, value: 'b', expiration: abs, expiration_ttl: 600,
        });
        const listed = {};
        for await (const k of client.kv.namespaces.keys.list(ns.id, { account_id }))
            listed[k.name] = k;
        assert.equal(listed.abs.expiration, abs);
        assert.ok(listed.both.expiration < abs);
        assert.deepEqual(listed['with-meta'].metadata, { lang: 'en', n: [1, 2] });

        // TTL below the minimum, an expiration in the past.
        await rejects(client.kv.namespaces.values.update('short', { ...opts, value: 'x', expiration_ttl: 5 }),
            400, 10021, 'Invalid expiration_ttl of 5. Expiration TTL must be at least 60.');
        await rejects(client.kv.namespaces.values.update('past', { ...opts, value: 'x', expiration: before - 10 }),
            400, 10021);

        // Key names the client sends with sub-delims raw and the rest percent-encoded.
        for (const key of ['a/b', 'c+d', 'sp ace', "q?x=1&y=2#f", 'ünï/cödé', "!$&'()*,;=:@", '%41']) {
            await client.kv.namespaces.values.update(key, { ...opts, value: `v:${key}` });
            assert.equal((await text(await client.kv.namespaces.values.get(key, opts))).toString(), `v:${key}`);
        }
        const names = [];
        for await (const k of client.kv.namespaces.keys.list(ns.id, { account_id, prefix: 'c' }))
            names.push(k.name);
        assert.deepEqual(names, ['c+d']);

        // Missing keys, deletes (idempotent), unknown namespaces.
        await rejects(client.kv.namespaces.values.get('nope', opts), 404, 10009, "get: 'key not found'");
        await rejects(client.kv.namespaces.metadata.get('nope', opts), 404, 10009);
        await client.kv.namespaces.values.delete('greeting', opts);
        await client.kv.namespaces.values.delete('greeting', opts);
        await rejects(client.kv.namespaces.values.get('greeting', opts), 404, 10009);
        const unknown = { account_id, namespace_id: '0'.repeat(32) };
        await rejects(client.kv.namespaces.values.get('x', unknown), 404, 10013);
        await rejects(client.kv.namespaces.values.update('x', { ...unknown, value: 'v' }), 404, 10013);
        await rejects(client.kv.namespaces.values.delete('x', unknown), 404, 10013);
        await rejects(client.kv.namespaces.metadata.get('x', unknown), 404, 10013);
        await client.kv.namespaces.delete(ns.id, { account_id });
    },

    // Key listing: auto-pagination by cursor in byte order, prefixes, small limits.
    async keys() {
        const ns = await newNamespace('keys');
        const body = [];
        for (let i = 0; i < 2500; i++) body.push({ key: `k${String(i).padStart(5, '0')}`, value: `${i}` });
        body.push({ key: 'other', value: 'o', metadata: { m: true } });
        const put = await client.kv.namespaces.bulkUpdate(ns.id, { account_id, body });
        assert.equal(put.successful_key_count, 2501);
        assert.deepEqual(put.unsuccessful_keys, []);

        const all = [];
        let pages = 0;
        const firstPage = await client.kv.namespaces.keys.list(ns.id, { account_id });
        for await (const page of firstPage.iterPages()) {
            pages++;
            assert.equal(page.result_info.count, page.result.length);
            all.push(...page.result.map((k) => k.name));
        }
        assert.equal(pages, 3);
        assert.equal(all.length, 2501);
        assert.deepEqual(all, [...all].sort());

        const some = [];
        for await (const k of client.kv.namespaces.keys.list(ns.id, { account_id, prefix: 'k001', limit: 10 }))
            some.push(k.name);
        assert.equal(some.length, 100);
        assert.equal(some[0], 'k00100');
        const first = await client.kv.namespaces.keys.list(ns.id, { account_id, prefix: 'other' });
        assert.deepEqual(first.result, [{ name: 'other', metadata: { m: true } }]);
        assert.equal(first.result_info.cursor, '');
        await rejects(client.kv.namespaces.keys.list('f'.repeat(32), { account_id }), 404, 10013);
        await client.kv.namespaces.delete(ns.id, { account_id });
    },

    // Bulk write (base64, metadata, TTL), bulk get (text, json, with metadata), bulk delete.
    async bulk() {
        const ns = await newNamespace('bulk');
        const bulk = client.kv.namespaces;
        const r = await bulk.bulkUpdate(ns.id, {
            account_id,
            body: [
                { key: 'plain', value: 'p' },
                { key: 'b64', value: Buffer.from('hi there').toString('base64'), base64: true },
                { key: 'json', value: '{"a":[1,2]}', metadata: { kind: 'json' }, expiration_ttl: 300 },
            ],
        });
        assert.equal(r.successful_key_count, 3);

        const got = await bulk.bulkGet(ns.id, { account_id, keys: ['plain', 'b64', 'missing'] });
        assert.deepEqual(got, { values: { plain: 'p', b64: 'hi there', missing: null } });
        const asJson = await bulk.bulkGet(ns.id, { account_id, keys: ['json'], type: 'json' });
        assert.deepEqual(asJson.values.json, { a: [1, 2] });
        const meta = await bulk.bulkGet(ns.id, { account_id, keys: ['json', 'plain'], withMetadata: true });
        assert.deepEqual(meta.values.json.metadata, { kind: 'json' });
        assert.equal(meta.values.json.value, '{"a":[1,2]}');
        assert.ok(meta.values.json.expiration > Date.now() / 1000);
        assert.equal(meta.values.plain.metadata, null);

        // A bad entry refuses the whole batch.
        await rejects(bulk.bulkUpdate(ns.id, {
            account_id, body: [{ key: 'ok', value: 'v' }, { key: 'short', value: 'v', expiration_ttl: 5 }],
        }), 400, 10012);
        assert.equal((await bulk.bulkGet(ns.id, { account_id, keys: ['ok'] })).values.ok, null);

        const del = await bulk.bulkDelete(ns.id, { account_id, body: ['plain', 'b64', 'never'] });
        assert.equal(del.successful_key_count, 3);
        const after = await bulk.bulkGet(ns.id, { account_id, keys: ['plain', 'b64', 'json'] });
        assert.deepEqual(Object.keys(after.values).filter((k) => after.values[k] !== null), ['json']);
        // The same routes through the keys resource.
        await client.kv.namespaces.keys.bulkUpdate(ns.id, { account_id, body: [{ key: 'z', value: 'z' }] });
        assert.equal((await client.kv.namespaces.keys.bulkGet(ns.id, { account_id, keys: ['z'] })).values.z, 'z');
        await client.kv.namespaces.keys.bulkDelete(ns.id, { account_id, body: ['z'] });
        const unknown = 'e'.repeat(32);
        await rejects(bulk.bulkUpdate(unknown, { account_id, body: [{ key: 'a', value: 'b' }] }), 404, 10013);
        await rejects(bulk.bulkDelete(unknown, { account_id, body: ['a'] }), 404, 10013);
        await rejects(bulk.bulkGet(unknown, { account_id, keys: ['a'] }), 404, 10013);
        await client.kv.namespaces.delete(ns.id, { account_id });
    },

    // With api_token set: the client's Bearer token is checked.
    async auth() {
        const ns = await newNamespace('auth');
        assert.match(ns.id, /^[0-9a-f]{32}$/);
        const wrong = new Cloudflare({ apiToken: 'wrong', baseURL: process.env.EC_BASE_URL, maxRetries: 0 });
        await rejects(wrong.kv.namespaces.get(ns.id, { account_id }), 401, 10000);
        await client.kv.namespaces.delete(ns.id, { account_id });
    },
};

const name = process.argv[2];
if (!scenarios[name]) {
    console.error(`unknown scenario ${name}; one of ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
}
scenarios[name]().then(
    () => console.log(`ok ${name}`),
    (e) => {
        console.error(e && e.stack ? e.stack : e);
        process.exit(1);
    },
);
