// Eviction planning (loop side) when the map fills: expired records first, then the coldest.
#include <algorithm>

#include "store/bytes.hpp"
#include "store/store_impl.hpp"
#include "util/log.hpp"

namespace ec::store {

using detail::sv;

namespace {

// Cache entries ('C') are always evictable; KV records ('K' + be32 namespace) only when their
// namespace is listed in `evictable_namespaces`.
bool evictable(std::string_view key, const std::vector<uint32_t>& nums) {
    if (key.empty()) return false;
    if (key[0] == 'C') return true;
    if (key[0] != 'K' || key.size() < 5) return false;
    uint32_t num = (static_cast<uint32_t>(static_cast<unsigned char>(key[1])) << 24) |
                   (static_cast<uint32_t>(static_cast<unsigned char>(key[2])) << 16) |
                   (static_cast<uint32_t>(static_cast<unsigned char>(key[3])) << 8) |
                   static_cast<uint32_t>(static_cast<unsigned char>(key[4]));
    return std::find(nums.begin(), nums.end(), num) != nums.end();
}

} // namespace

Store::Impl::PageUse Store::Impl::page_use() {
    PageUse u;
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(env_->env(), &info) != 0 || mdb_env_stat(env_->env(), &st) != 0) return u;
    u.page_size = st.ms_psize;
    u.map_pages = info.me_mapsize / st.ms_psize;
    u.high_water = info.me_last_pgno + 1;
    if (u.high_water * 100 < u.map_pages * kEvictAheadPercent) return u; // far from full: done
    // Close to the high-water mark: count the pages really in use (freed ones are reusable).
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_->env(), nullptr, MDB_RDONLY, &txn) != 0) return u;
    const Dbs& d = env_->dbs();
    for (MDB_dbi dbi :
         {MDB_dbi{0}, MDB_dbi{1}, d.records, d.expiry, d.tags, d.namespaces, d.meta, d.runs}) {
        if (mdb_stat(txn, dbi, &st) == 0) {
            u.used += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
            if (dbi == d.records) u.records = st.ms_entries;
        }
    }
    mdb_txn_abort(txn);
    return u;
}

EvictPlan Store::Impl::plan_evict_ahead() {
    PageUse u = page_use();
    if (u.map_pages == 0) return {};
    if (!evicting_ahead_) {
        if (u.used * 100 < u.map_pages * kEvictAheadPercent) return {};
        evicting_ahead_ = true;
        evicted_ahead_ = 0;
        LOG_WARN("store: %llu%% of the map in use: evicting down to %llu%%",
                 static_cast<unsigned long long>(u.used * 100 / u.map_pages),
                 static_cast<unsigned long long>(kEvictTargetPercent));
    }
    if (u.used * 100 <= u.map_pages * kEvictTargetPercent) {
        evicting_ahead_ = false;
        LOG_INFO("store: evicted %zu record(s) ahead of a full map", evicted_ahead_);
        return {};
    }
    // One slice per commit, down to the low-water mark: the 20,000 records an 8 GiB map's 10%
    // came to once stalled every write behind them for ~80 ms. (Records per page, not pages
    // per record: when k small records share a page, rounding pages-per-record up to 1
    // evicted 1/k of what was meant.)
    uint64_t excess = u.used - u.map_pages * kEvictTargetPercent / 100;
    uint64_t records = u.used ? excess * u.records / u.used : 0;
    return plan_eviction(static_cast<size_t>(std::min<uint64_t>(records + 16, kEvictSlice)));
}

EvictPlan Store::Impl::plan_eviction(size_t want) {
    EvictPlan plan;
    plan.want = want;
    // The coldest evictable records, in expiry order (what expires soonest is worth least),
    // skipping what the hot tier has served recently (eviction_skip_). The writer deletes
    // expired records first and takes from these only what is still missing.
    std::vector<uint32_t> nums;
    for (const std::string& title : opts_.evictable_namespaces)
        if (auto it = by_title_.find(title); it != by_title_.end()) nums.push_back(it->second->num);
    auto t = read_txn();
    if (!t) return plan;
    int64_t now = now_s();
    std::vector<std::string> hot;
    MDB_cursor* cur = nullptr;
    if (mdb_cursor_open(*t, env_->dbs().expiry, &cur) == 0) {
        MDB_val k, v;
        size_t examined = 0;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
             rc == 0 && plan.victims.size() < want && examined < want * 20;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), ++examined) {
            MDB_val rk = v, rv;
            if (mdb_get(*t, env_->dbs().records, &rk, &rv) != 0) continue;
            RecordView rec;
            if (!decode_record(sv(rk), sv(rv), &rec) || !evictable(rec.key, nums)) continue;
            if (rec.expires_at <= now) continue; // expired: the writer's first step takes it
            if (eviction_skip_ && eviction_skip_(rec.key)) {
                if (hot.size() < want) hot.emplace_back(rec.key);
                continue;
            }
            plan.victims.emplace_back(rec.key);
        }
        mdb_cursor_close(cur);
    }
    // Not enough cold ones: recently used ones go too, rather than refusing the write.
    for (size_t i = 0; plan.victims.size() < want && i < hot.size(); ++i)
        plan.victims.push_back(std::move(hot[i]));
    // No snapshot of ours may pin the pages about to be freed.
    reset_read_txn();
    return plan;
}

} // namespace ec::store
