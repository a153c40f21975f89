// A Worker with the seed's KV caching helpers (shared/seed/000_9c38b5927257ec0e.ts), its D1
// queries replaced by fetches to a test origin (the ORIGIN service binding). Run by workerd with
// CACHE bound to edgecached's kv_backend listener; test_cloudflare_workerd.py drives it.

// ---- the seed's helpers, as written there (types dropped) ----

async function getCached(kv, cacheKey, fetchFn, options = {}) {
    const ttl = options.ttl ?? 3600;
    const cacheTtl = options.cacheTtl ?? 300;
    const cached = await kv.get(cacheKey, { type: 'json', cacheTtl: Math.max(cacheTtl, 60) });
    if (cached !== null) {
        return cached;
    }
    const data = await fetchFn();
    await kv.put(cacheKey, JSON.stringify(data), { expirationTtl: Math.max(ttl, 60) });
    return data;
}

async function staleWhileRevalidate(kv, cacheKey, fetchFn, ctx, options = {}) {
    const ttl = options.ttl ?? 3600;
    const staleThreshold = options.staleThreshold ?? 300;
    const { value, metadata } = await kv.getWithMetadata(cacheKey, { type: 'json' });
    if (value !== null && metadata) {
        const age = Date.now() - metadata.timestamp;
        if (age > staleThreshold * 1000) {
            ctx.waitUntil((async () => {
                try {
                    const fresh = await fetchFn();
                    await kv.put(cacheKey, JSON.stringify(fresh), {
                        expirationTtl: ttl,
                        metadata: { timestamp: Date.now() },
                    });
                } catch (error) {
                    console.error('Background refresh failed:', error);
                }
            })());
        }
        return value;
    }
    const data = await fetchFn();
    await kv.put(cacheKey, JSON.stringify(data), {
        expirationTtl: ttl,
        metadata: { timestamp: Date.now() },
    });
    return data;
}

// ---- the seed's routes (hono replaced by a small matcher) ----

const json = (body, status = 200) => Response.json(body, { status });

async function origin(env, path, init) {
    const r = await env.ORIGIN.fetch(`http://origin${path}`, init);
    if (!r.ok) throw new Error(`origin ${path}: ${r.status}`);
    return r.json();
}

async function route(request, env, ctx) {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;
    let m;

    if ((m = path.match(/^\/api\/user\/([^/]+)$/))) {
        const userId = m[1];
        const cacheKey = `user:${userId}`;
        if (method === 'GET') {
            const user = await getCached(env.CACHE, cacheKey, () => origin(env, `/users/${userId}`),
                { ttl: 3600, cacheTtl: 300 });
            return json({ success: true, user, cached: true });
        }
        if (method === 'PUT') {
            const userData = await request.json();
            await origin(env, `/users/${userId}`, { method: 'PUT', body: JSON.stringify(userData) });
            await env.CACHE.put(cacheKey, JSON.stringify(userData), { expirationTtl: 3600 });
            return json({ success: true, message: 'User updated and cache refreshed' });
        }
        if (method === 'DELETE') {
            await origin(env, `/users/${userId}`, { method: 'DELETE' });
            await env.CACHE.delete(cacheKey);
            return json({ success: true, message: 'User deleted and cache invalidated' });
        }
    }
    if (path === '/api/cache/invalidate' && method === 'POST') {
        const { keys } = await request.json();
        await Promise.all(keys.map((key) => env.CACHE.delete(key)));
        return json({ success: true, count: keys.length });
    }
    if (path === '/api/cache/invalidate/prefix' && method === 'POST') {
        const { prefix } = await request.json();
        let cursor;
        let deletedCount = 0;
        do {
            const result = await env.CACHE.list({ prefix, cursor });
            await Promise.all(result.keys.map((key) => env.CACHE.delete(key.name)));
            deletedCount += result.keys.length;
            cursor = result.list_complete ? undefined : result.cursor;
        } while (cursor);
        return json({ success: true, deletedCount });
    }
    if (path === '/api/stats' && method === 'GET') {
        const staleThreshold = Number(url.searchParams.get('staleThreshold') ?? 300);
        const stats = await staleWhileRevalidate(env.CACHE, 'global:stats',
            () => origin(env, '/stats'), ctx, { ttl: 3600, staleThreshold });
        return json({ success: true, stats });
    }
    if (path === '/api/cache/warm' && method === 'POST') {
        // The seed warms from a D1 query; here the ids come in the body.
        const { ids } = await request.json();
        const users = await Promise.all(ids.map((id) => origin(env, `/users/${id}`)));
        await Promise.all(users.map((user) =>
            env.CACHE.put(`user:${user.id}`, JSON.stringify(user), { expirationTtl: 3600 })));
        return json({ success: true, count: users.length });
    }
    if (path === '/health') return json({ status: 'ok', timestamp: new Date().toISOString() });

    // ---- test probes of the binding itself ----
    if (path === '/probe/list') {
        const opts = {};
        for (const k of ['prefix', 'cursor']) if (url.searchParams.has(k)) opts[k] = url.searchParams.get(k);
        if (url.searchParams.has('limit')) opts.limit = Number(url.searchParams.get('limit'));
        return json(await env.CACHE.list(opts));
    }
    if ((m = path.match(/^\/probe\/meta\/(.+)$/))) {
        const type = url.searchParams.get('type') ?? 'json';
        const r = await env.CACHE.getWithMetadata(decodeURIComponent(m[1]), { type });
        return json({ value: r.value, metadata: r.metadata });
    }
    if (path === '/probe/bulk') {
        const keys = url.searchParams.getAll('key');
        const map = await env.CACHE.getWithMetadata(keys, { type: 'json' });
        return json(Object.fromEntries(map));
    }
    if ((m = path.match(/^\/probe\/put\/(.+)$/)) && method === 'PUT') {
        const opts = {};
        if (url.searchParams.has('ttl')) opts.expirationTtl = Number(url.searchParams.get('ttl'));
        if (url.searchParams.has('metadata')) opts.metadata = JSON.parse(url.searchParams.get('metadata'));
        await env.CACHE.put(decodeURIComponent(m[1]), await request.text(), opts);
        return json({ success: true });
    }
    if ((m = path.match(/^\/probe\/get\/(.+)$/))) {
        const value = await env.CACHE.get(decodeURIComponent(m[1]));
        return json({ value });
    }
    if ((m = path.match(/^\/probe\/delete\/(.+)$/)) && method === 'DELETE') {
        await env.CACHE.delete(decodeURIComponent(m[1]));
        return json({ success: true });
    }
    return json({ success: false, error: 'no route' }, 404);
}

export default {
    async fetch(request, env, ctx) {
        try {
            return await route(request, env, ctx);
        } catch (error) {
            return json({ success: false, error: error.message }, 500);
        }
    },
};
