"""KV through the fleet: a write on one node is readable on the others; bulk writes, deletes
and namespaces replicate; concurrent writes of one key converge on every node."""
import json
import threading

from fleetutil import eventually


def value(node, ns, key):
    r = node.get("/kv/%s/%s" % (ns, key), fresh=True)
    return r.body if r.status == 200 else None


def test_write_on_a_is_read_on_b_and_c(three_nodes):
    a, b, c = three_nodes
    r = a.put("/kv/users/alice", b"v1", headers={"X-KV-Metadata": '{"role":"admin"}'})
    assert r.status == 200, r.text
    assert value(a, "users", "alice") == b"v1"  # read-your-writes: no waiting on A
    for n in (b, c):
        eventually(lambda: value(n, "users", "alice") == b"v1")
        r = n.get("/kv/users?prefix=al", fresh=True)
        assert r.json()["keys"] == [{"name": "alice", "metadata": {"role": "admin"}}]
    # The namespace has one id on every node.
    ids = {n.get("/client/v4/accounts/x/storage/kv/namespaces", fresh=True).json()["result"][0]["id"]
           for n in three_nodes}
    assert len(ids) == 1


def test_bulk_write_on_b_is_listed_on_a_and_delete_replicates(three_nodes):
    a, b, c = three_nodes
    entries = [{"key": "k%03d" % i, "value": "v%d" % i} for i in range(50)]
    r = b.put("/kv/bulkns", json.dumps(entries).encode())
    assert r.status == 200, r.text
    eventually(lambda: len(a.get("/kv/bulkns", fresh=True).json()["keys"]) == 50)
    assert value(a, "bulkns", "k049") == b"v49"
    r = c.delete("/kv/bulkns/k000")
    assert r.status == 200, r.text
    for n in (a, b):
        eventually(lambda: value(n, "bulkns", "k000") is None)
    assert value(a, "bulkns", "k001") == b"v1"


def test_namespace_created_on_c_is_usable_by_id_on_a(three_nodes):
    a, b, c = three_nodes
    base = "/client/v4/accounts/acct/storage/kv/namespaces"
    r = c.post(base, json.dumps({"title": "made-on-c"}).encode(),
               headers={"Content-Type": "application/json"})
    assert r.status == 200, r.text
    ns_id = r.json()["result"]["id"]
    # A knows the id once it applied the namespace (eventually consistent, like the keys).
    eventually(lambda: a.put("%s/%s/values/greeting" % (base, ns_id), b"hello",
                             fresh=True).status == 200)
    eventually(lambda: c.get("%s/%s/values/greeting" % (base, ns_id), fresh=True).body == b"hello")
    # The title is taken fleet-wide.
    r = b.post(base, json.dumps({"title": "made-on-c"}).encode(),
               headers={"Content-Type": "application/json"})
    assert r.status == 400


def test_namespace_renamed_on_b_answers_the_new_title_and_refuses_a_taken_one(three_nodes):
    a, b, c = three_nodes
    base = "/client/v4/accounts/acct/storage/kv/namespaces"
    json_type = {"Content-Type": "application/json"}
    ids = {}
    for title in ("first", "second"):
        r = a.post(base, json.dumps({"title": title}).encode(), headers=json_type)
        assert r.status == 200, r.text
        ids[title] = r.json()["result"]["id"]
    url = "%s/%s" % (base, ids["first"])
    eventually(lambda: b.get(url, fresh=True).status == 200)
    # The answer is the namespace as B holds it once the rename is applied there.
    r = b.put(url, json.dumps({"title": "renamed"}).encode(), headers=json_type)
    assert r.status == 200, r.text
    assert r.json()["result"] == {"id": ids["first"], "title": "renamed",
                                  "supports_url_encoding": True}
    eventually(lambda: a.get(url, fresh=True).json()["result"]["title"] == "renamed")
    # A title held by another namespace is refused (Cloudflare's duplicate-title error).
    eventually(lambda: b.get("%s/%s" % (base, ids["second"]), fresh=True).status == 200)
    r = b.put(url, json.dumps({"title": "second"}).encode(), headers=json_type)
    assert r.status == 400, r.text
    assert r.json()["errors"][0]["code"] == 10014
    eventually(lambda: c.get(url, fresh=True).json()["result"]["title"] == "renamed")


def test_concurrent_writes_of_one_key_converge(three_nodes):
    a, b, c = three_nodes
    assert a.put("/kv/race/seed", b"x").status == 200
    eventually(lambda: value(b, "race", "seed") == b"x")

    def writer(node, tag):
        for i in range(20):
            assert node.put("/kv/race/k", ("%s%d" % (tag, i)).encode(), fresh=True).status == 200

    threads = [threading.Thread(target=writer, args=(n, t)) for n, t in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every node ends with the same value: the write with the highest stream sequence.
    eventually(lambda: len({value(n, "race", "k") for n in three_nodes}) == 1)
    assert value(a, "race", "k") in {("%s19" % t).encode() for t in "ab"}


def test_keys_of_any_bytes_replicate(three_nodes):
    a, b, _ = three_nodes
    key = "sp%20ace%2Fslash.dot*star%3Egt"
    assert a.put("/kv/odd/" + key, b"odd").status == 200
    eventually(lambda: value(b, "odd", key) == b"odd")


# /admin/fleet's counters and the /metrics sample carrying each (family, label): one table feeds
# both (issue 12 item 9). /metrics once lacked resyncs, the purges and the writes.
FLEET_METRICS = {
    "kv": {"applied_seq": ("edgecached_fleet_applied_sequence", ""),
           "lag_messages": ("edgecached_fleet_lag_messages", ""),
           "lag_seconds": ("edgecached_fleet_lag_seconds", ""),
           "applied_total": ("edgecached_fleet_apply_total", ""),
           "resyncs": ("edgecached_fleet_resyncs_total", "")},
    "purges": {"pending": ("edgecached_fleet_purges_pending", ""),
               "applied_total": ("edgecached_fleet_purges_applied_total", "")},
    "writes": {"ok": ("edgecached_fleet_writes_total", 'result="ok"'),
               "failed": ("edgecached_fleet_writes_total", 'result="failed"')},
}


def test_every_fleet_counter_is_a_metric(make_node):
    a = make_node("edge-a")
    assert a.put("/kv/users/alice", b"v1").status == 200
    eventually(lambda: a.admin("GET", "/admin/fleet").json()["kv"]["applied_total"] >= 1)
    status = a.admin("GET", "/admin/fleet").json()
    samples = {}
    for line in a.admin("GET", "/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            samples[name] = float(v)
    assert status["writes"]["ok"] == 1
    for section, table in FLEET_METRICS.items():
        numeric = {k for k, v in status[section].items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        assert numeric == set(table), section  # a new key needs its metric here and in the table
        for key, (family, labels) in table.items():
            name = family + ("{%s}" % labels if labels else "")
            assert samples.get(name) == status[section][key], (section, key, name)
    for flag in ("connected", "ready"):
        assert samples["edgecached_fleet_" + flag] == float(status[flag])
    assert samples["edgecached_fleet_resyncing"] == float(status["kv"]["resyncing"])
