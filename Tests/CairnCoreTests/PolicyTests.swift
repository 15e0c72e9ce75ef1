import CairnCore
import CairnTestSupport
import Foundation
import Testing

/// Retention policy selection on fixed calendars. Every expected kept set is written by hand
/// from the calendar, not computed.
@Suite struct PolicyTests {
    let berlin = TimeZone(identifier: "Europe/Berlin")!
    let newYork = TimeZone(identifier: "America/New_York")!
    let utc = TimeZone(identifier: "UTC")!

    /// Nanoseconds of a wall-clock time `yyyy-MM-dd HH:mm` in `zone` (times around DST changes are given in UTC).
    func at(_ text: String, _ zone: TimeZone) -> Int64 {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd HH:mm"
        return Int64(f.date(from: text)!.timeIntervalSince1970) * 1_000_000_000
    }

    func item(_ id: String, _ ns: Int64, silos: [String] = ["a"], tags: [String] = []) -> RetentionItem {
        RetentionItem(id: id, timeNs: ns, tags: tags, silos: silos)
    }

    func kept(_ items: [RetentionItem], _ p: RetentionPolicy, _ zone: TimeZone, now: Date? = nil) -> Set<String> {
        let latest = items.map(\.timeNs).max() ?? 0
        let d = p.select(items, timeZone: zone, now: now ?? Date(timeIntervalSince1970: Double(latest) / 1e9))
        return Set(d.filter(\.keep).map(\.id))
    }

    func reasons(_ items: [RetentionItem], _ p: RetentionPolicy, _ zone: TimeZone) -> [String: [String]] {
        let latest = items.map(\.timeNs).max() ?? 0
        var out: [String: [String]] = [:]
        for d in p.select(items, timeZone: zone, now: Date(timeIntervalSince1970: Double(latest) / 1e9)) { out[d.id] = d.reasons }
        return out
    }

    @Test func severalSnapshotsInOneHour() {
        let items = [
            item("a1", at("2024-05-10 09:05", berlin)), item("a2", at("2024-05-10 09:20", berlin)),
            item("a3", at("2024-05-10 09:55", berlin)), item("a4", at("2024-05-10 10:10", berlin)),
            item("a5", at("2024-05-10 11:40", berlin)), item("a6", at("2024-05-11 08:00", berlin)),
        ]
        #expect(kept(items, RetentionPolicy(keepHourly: 3), berlin) == ["a6", "a5", "a4"])
        // The 09h bucket keeps its newest snapshot (09:55) only.
        #expect(kept(items, RetentionPolicy(keepHourly: 4), berlin) == ["a6", "a5", "a4", "a3"])
        // One hourly bucket left over at the oldest snapshot: restic keeps the oldest too.
        #expect(kept(items, RetentionPolicy(keepHourly: 5), berlin) == ["a6", "a5", "a4", "a3", "a1"])
        #expect(reasons(items, RetentionPolicy(keepHourly: 5), berlin)["a1"] == ["oldest hourly"])
        #expect(reasons(items, RetentionPolicy(keepHourly: 5), berlin)["a2"] == [])
        // last and daily together, each kept snapshot names both rules.
        let r = reasons(items, RetentionPolicy(keepLast: 2, keepDaily: 2), berlin)
        #expect(r["a6"] == ["last", "daily"])
        #expect(r["a5"] == ["last", "daily"])
        #expect(kept(items, RetentionPolicy(keepLast: 2, keepDaily: 2), berlin) == ["a6", "a5"])
        #expect(kept(items, RetentionPolicy(keepLast: 10), berlin).count == 6)
    }

    @Test func dstFallBackMergesTheRepeatedHour() {
        // 2024-10-27 in Berlin: 03:00 CEST becomes 02:00 CET, so local 02:xx happens twice.
        let items = [
            item("b4", at("2024-10-26 23:30", utc)), // 01:30 CEST
            item("b1", at("2024-10-27 00:30", utc)), // 02:30 CEST
            item("b2", at("2024-10-27 01:30", utc)), // 02:30 CET (same local hour as b1)
            item("b3", at("2024-10-27 02:30", utc)), // 03:30 CET
        ]
        #expect(kept(items, RetentionPolicy(keepHourly: 10), berlin) == ["b4", "b2", "b3"])
        #expect(kept(items, RetentionPolicy(keepHourly: 10), utc) == ["b1", "b2", "b3", "b4"])
        // All four are on the same local day.
        #expect(kept(items, RetentionPolicy(keepDaily: 1), berlin) == ["b3"])
    }

    @Test func dstSpringForwardDaysAreLocal() {
        // 2024-03-31 in Berlin: 02:00 CET becomes 03:00 CEST.
        let items = [
            item("c1", at("2024-03-30 22:30", utc)), // 23:30 CET, Mar 30
            item("c2", at("2024-03-30 23:30", utc)), // 00:30 CET, Mar 31
            item("c3", at("2024-03-31 21:30", utc)), // 23:30 CEST, Mar 31
            item("c4", at("2024-03-31 22:30", utc)), // 00:30 CEST, Apr 1
        ]
        #expect(kept(items, RetentionPolicy(keepDaily: 2), berlin) == ["c4", "c3"])
        #expect(kept(items, RetentionPolicy(keepDaily: 2), utc) == ["c4", "c2"])
        #expect(kept(items, RetentionPolicy(keepDaily: 3), berlin) == ["c4", "c3", "c1"])
        // 01:30 CET and 03:30 CEST on Mar 31 are one real hour apart but two local hours: distinct buckets.
        let h = [item("h1", at("2024-03-31 00:30", utc)), item("h2", at("2024-03-31 01:30", utc))]
        #expect(kept(h, RetentionPolicy(keepHourly: 1), berlin) == ["h2"])
        #expect(reasons(h, RetentionPolicy(keepHourly: 2), berlin) == ["h1": ["hourly"], "h2": ["hourly"]])
    }

    @Test func yearBoundaryAndIsoWeeksInNewYork() {
        let items = [
            item("d1", at("2020-12-28 12:00", newYork)), // Mon, ISO 2020-W53
            item("d2", at("2020-12-31 23:30", newYork)), // Thu, 2020-W53 (already 2021-01-01 in UTC)
            item("d3", at("2021-01-03 12:00", newYork)), // Sun, still 2020-W53
            item("d4", at("2021-01-04 09:00", newYork)), // Mon, 2021-W01
            item("d5", at("2021-01-10 20:00", newYork)), // Sun, 2021-W01 (Mon 2021-W02 in UTC)
        ]
        #expect(kept(items, RetentionPolicy(keepWeekly: 2), newYork) == ["d5", "d3"])
        #expect(kept(items, RetentionPolicy(keepWeekly: 2), utc) == ["d5", "d4"])
        #expect(kept(items, RetentionPolicy(keepYearly: 2), newYork) == ["d5", "d2"])
        #expect(kept(items, RetentionPolicy(keepYearly: 2), utc) == ["d5", "d1"])
        #expect(kept(items, RetentionPolicy(keepMonthly: 2), newYork) == ["d5", "d2"])
        #expect(kept(items, RetentionPolicy(keepDaily: 3, keepYearly: 1), newYork) == ["d5", "d4", "d3"])
        // 2026 starts on a Thursday: Dec 31 2026 is in 2026-W53 and Jan 1 2027 (Fri) too.
        let w = [item("w1", at("2026-12-31 10:00", utc)), item("w2", at("2027-01-01 10:00", utc)), item("w3", at("2027-01-04 10:00", utc))]
        #expect(kept(w, RetentionPolicy(keepWeekly: 2), utc) == ["w3", "w2"])
    }

    @Test func keepTagAndKeepWithin() {
        let items = [
            item("e1", at("2024-01-01 10:00", berlin), tags: ["release"]),
            item("e2", at("2024-02-01 10:00", berlin)),
            item("e3", at("2024-02-10 10:00", berlin)),
            item("e4", at("2024-02-11 09:00", berlin)),
            item("e5", at("2024-02-12 12:00", berlin), tags: ["nightly"]),
        ]
        // Within 2d3h of the newest (Feb 12 12:00): after Feb 10 09:00.
        let p = RetentionPolicy(keepWithin: KeepDuration(parsing: "2d3h"), keepTags: ["release"])
        #expect(kept(items, p, berlin) == ["e1", "e3", "e4", "e5"])
        #expect(reasons(items, p, berlin)["e1"] == ["tag release"])
        #expect(reasons(items, p, berlin)["e3"] == ["within 2d3h"])
        #expect(kept(items, RetentionPolicy(keepWithin: KeepDuration(parsing: "1m")), berlin) == ["e2", "e3", "e4", "e5"])
        #expect(kept(items, RetentionPolicy(keepWithin: KeepDuration(parsing: "2d")), berlin) == ["e4", "e5"])
        #expect(kept(items, RetentionPolicy(keepTags: ["nightly", "release"]), berlin) == ["e1", "e5"])
        #expect(kept(items, RetentionPolicy(keepWithin: KeepDuration(parsing: "1y6m")), berlin).count == 5)
    }

    @Test func durationsParse() {
        #expect(KeepDuration(parsing: "2d3h") == KeepDuration(days: 2, hours: 3))
        #expect(KeepDuration(parsing: "1y6m") == KeepDuration(years: 1, months: 6))
        #expect(KeepDuration(parsing: "36h")?.description == "36h")
        for bad in ["", "d", "3x", "2d2d", "5", "-1d", "1.5d"] { #expect(KeepDuration(parsing: bad) == nil, "\(bad)") }
        #expect(throws: CairnError.self) { try RetentionPolicy().validate() }
        #expect(throws: CairnError.self) { try RetentionPolicy(keepLast: -1).validate() }
    }

    @Test func groupsBySiloSetAndSafetySnapshots() {
        let now = Date(timeIntervalSince1970: Double(at("2024-06-08 12:00", utc)) / 1e9)
        let items = [
            item("f1", at("2024-06-01 10:00", utc), silos: ["a"]),
            item("f2", at("2024-06-02 10:00", utc), silos: ["b", "a"]),
            item("f3", at("2024-06-03 10:00", utc), silos: ["a"]),
            item("f4", at("2024-06-04 10:00", utc), silos: ["b"]),
            item("f5", at("2024-06-05 10:00", utc), silos: ["a"], tags: ["pre-restore"]), // 3 days old
            item("f6", at("2024-05-20 10:00", utc), silos: ["a"], tags: ["pre-restore"]), // 19 days old
        ]
        #expect(kept(items, RetentionPolicy(keepLast: 1), utc, now: now) == ["f2", "f3", "f4", "f5"])
        let d = RetentionPolicy(keepLast: 1).select(items, timeZone: utc, now: now)
        #expect(d.first { $0.id == "f5" }?.reasons == ["pre-restore safety (7 days)"])
        #expect(d.first { $0.id == "f2" }?.group == "a,b")
        // A tag rule keeps an old safety snapshot.
        #expect(kept(items, RetentionPolicy(keepLast: 1, keepTags: ["pre-restore"]), utc, now: now) == ["f2", "f3", "f4", "f5", "f6"])
        // --silo b: only snapshots holding b are considered (two groups: "a,b" and "b").
        let only = RetentionPolicy(keepLast: 1, silo: "b").select(items, timeZone: utc, now: now)
        #expect(Set(only.map(\.id)) == ["f2", "f4"])
        #expect(only.allSatisfy { $0.keep })
    }

    @Test func forgetOnARepository() throws {
        let t = TempDir(); defer { t.remove() }
        try writeFile(t.sub("s/x"), Array("x".utf8))
        let r = try makeRepository(t, silos: ["s": t.sub("s")])
        let day: Int64 = 86_400 * 1_000_000_000
        let now = Int64(Date().timeIntervalSince1970) * 1_000_000_000
        var ids: [String] = []
        for (i, age) in [30, 20, 10, 2, 1].enumerated() {
            try writeFile(t.sub("s/x"), Array("version \(i)".utf8))
            var o = SnapshotOptions(tags: age == 2 ? ["pre-restore"] : [])
            o.timeNs = now - Int64(age) * day
            ids.append(try Snapshotter(repository: r, options: o).run().snapshot!.id)
        }
        let res = try r.forget(policy: RetentionPolicy(keepLast: 1))
        // The 2-day-old safety snapshot stays; of the rest only the newest.
        #expect(Set(res.removed) == [ids[0], ids[1], ids[2]])
        #expect(try r.snapshots().map(\.id) == [ids[3], ids[4]])
        for id in res.removed { #expect(!FS.exists(r.layout.snapshot(id))) }
        // Named explicitly, a safety snapshot goes.
        #expect(try r.forget(ids: [String(ids[3].prefix(10))]).removed == [ids[3]])
        #expect(try r.snapshots().map(\.id) == [ids[4]])
        // A reopened repository does not resurrect forgotten records.
        #expect(try Repository.open(at: r.root).snapshots().map(\.id) == [ids[4]])
        #expect(try r.check(readData: true).ok)
    }

    @Test func storedPolicyRoundTrips() throws {
        let t = TempDir(); defer { t.remove() }
        try FS.mkdirs(t.sub("s"))
        let r = try makeRepository(t, silos: ["s": t.sub("s")])
        #expect(try r.storedPolicy() == nil)
        let p = RetentionPolicy(keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepWithin: KeepDuration(parsing: "2d"), keepTags: ["keep"])
        try r.setStoredPolicy(p)
        #expect(try r.storedPolicy() == p)
        let text = String(decoding: try FS.readAll(r.layout.policy), as: UTF8.self)
        #expect(text.contains("\"keepWithin\" : \"2d\""))
        #expect(throws: CairnError.self) { try r.setStoredPolicy(RetentionPolicy(silo: "nope")) }
        try r.setStoredPolicy(nil)
        #expect(try r.storedPolicy() == nil)
    }
}
