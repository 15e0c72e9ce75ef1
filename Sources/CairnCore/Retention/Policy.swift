// Retention: which snapshots a policy keeps (`cairn forget`, `cairn policy`), and removing
// the others.
//
// Owns: the pure selection (`RetentionPolicy.select`, restic `forget` semantics), the stored
// policy (REPO/policy.json, written atomically) and snapshot removal (Forget.swift).
// Crash properties: selection writes nothing. Removing a snapshot renames its record to
// `snapshots/ID.json.forgotten` (directory fsynced), then deletes its index row, then unlinks
// the renamed file. A crash in between leaves the tombstone; the next forget, prune or
// policy run finishes the removal. Blocks are never touched here: that is prune's job.

import Foundation

/// A duration for `--keep-within`: years, months, days and hours, written like `1y6m2d3h`.
public struct KeepDuration: Codable, Equatable, Sendable, CustomStringConvertible {
    public var years = 0, months = 0, days = 0, hours = 0

    public init(years: Int = 0, months: Int = 0, days: Int = 0, hours: Int = 0) {
        self.years = years
        self.months = months
        self.days = days
        self.hours = hours
    }

    /// Parses `2d3h`, `1y6m`, `36h`, ... (each unit at most once; y, m, d, h). Nil when malformed.
    public init?(parsing text: String) {
        var number = ""
        var seen = Set<Character>()
        var any = false
        for c in text {
            if c.isASCII, c.isNumber { number.append(c); continue }
            guard let n = Int(number), n >= 0, n < 100_000, !seen.contains(c) else { return nil }
            switch c {
            case "y": years = n
            case "m": months = n
            case "d": days = n
            case "h": hours = n
            default: return nil
            }
            seen.insert(c)
            number = ""
            any = true
        }
        guard number.isEmpty, any else { return nil }
    }

    /// Canonical text, e.g. `1y6m`; `0h` when zero.
    public var description: String {
        var s = ""
        if years > 0 { s += "\(years)y" }
        if months > 0 { s += "\(months)m" }
        if days > 0 { s += "\(days)d" }
        if hours > 0 { s += "\(hours)h" }
        return s.isEmpty ? "0h" : s
    }

    public var isZero: Bool { years == 0 && months == 0 && days == 0 && hours == 0 }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let d = KeepDuration(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a duration like 2d3h"))
        }
        self = d
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// A retention policy: restic's `forget` rules. Rules that are nil (or empty) are not used.
public struct RetentionPolicy: Codable, Equatable, Sendable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?
    public var keepWeekly: Int?
    public var keepMonthly: Int?
    public var keepYearly: Int?
    /// Keep every snapshot newer than this, relative to the newest snapshot of its group.
    public var keepWithin: KeepDuration?
    /// Keep every snapshot carrying one of these tags.
    public var keepTags: [String] = []
    /// Consider only snapshots that hold this silo (nil: all snapshots).
    public var silo: String?

    /// The tag of the safety snapshots `cairn restore` takes before replacing live data.
    public static let safetyTag = "pre-restore"
    /// How long a `pre-restore` safety snapshot is kept whatever the policy says (unless named explicitly).
    public static let safetyDays = 7

    public init(keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil, keepMonthly: Int? = nil,
                keepYearly: Int? = nil, keepWithin: KeepDuration? = nil, keepTags: [String] = [], silo: String? = nil) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepWithin = keepWithin
        self.keepTags = keepTags
        self.silo = silo
    }

    /// The ONE parser of a policy given by a user (the CLI's `--keep-*` options, the server's
    /// JSON body): `keepWithin` as text like `2d3h`; the result is validated (no negative
    /// count, not empty). `within` names the duration's field in the error message
    /// (`--keep-within` or `keepWithin`).
    public init(parsingKeepLast keepLast: Int?, keepHourly: Int?, keepDaily: Int?, keepWeekly: Int?, keepMonthly: Int?, keepYearly: Int?,
                keepWithin: String?, keepTags: [String], silo: String?, within field: String = "--keep-within") throws {
        var duration: KeepDuration?
        if let w = keepWithin {
            guard let d = KeepDuration(parsing: w) else {
                throw CairnError(.invalidInput, "\(field) '\(w)' is not a duration; write it like 2d3h or 1y6m (units y, m, d, h)")
            }
            duration = d
        }
        self.init(keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily, keepWeekly: keepWeekly, keepMonthly: keepMonthly,
                  keepYearly: keepYearly, keepWithin: duration, keepTags: keepTags, silo: silo)
        try validate()
    }

    /// True when no rule is set (such a policy would remove everything, so it is refused).
    public var isEmpty: Bool {
        [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly].allSatisfy { ($0 ?? 0) <= 0 }
            && (keepWithin?.isZero ?? true) && keepTags.isEmpty
    }

    /// Rejects negative counts and an empty policy.
    public func validate() throws {
        for (n, v) in [("keep-last", keepLast), ("keep-hourly", keepHourly), ("keep-daily", keepDaily), ("keep-weekly", keepWeekly),
                       ("keep-monthly", keepMonthly), ("keep-yearly", keepYearly)] where (v ?? 0) < 0 {
            throw CairnError(.invalidInput, "--\(n) must be 0 or more, not \(v!)")
        }
        if isEmpty {
            throw CairnError(.invalidInput, "no keep rule given, so every snapshot would be removed; give at least one --keep-* option (or snapshot ids to forget)")
        }
    }

    /// One line, e.g. `keep last 3, daily 7, weekly 4, within 2d, tag release`.
    public var summary: String {
        var parts: [String] = []
        let counts: [(String, Int?)] = [("last", keepLast), ("hourly", keepHourly), ("daily", keepDaily), ("weekly", keepWeekly),
                                        ("monthly", keepMonthly), ("yearly", keepYearly)]
        for (n, v) in counts { if let v, v > 0 { parts.append("\(n) \(v)") } }
        if let w = keepWithin, !w.isZero { parts.append("within \(w)") }
        for t in keepTags { parts.append("tag \(t)") }
        return "keep " + (parts.isEmpty ? "nothing" : parts.joined(separator: ", ")) + (silo.map { " (silo \($0))" } ?? "")
    }
}

/// What the selection needs to know of a snapshot.
public struct RetentionItem: Sendable, Equatable {
    public var id: String
    public var timeNs: Int64
    public var tags: [String]
    public var silos: [String]
    public init(id: String, timeNs: Int64, tags: [String] = [], silos: [String]) {
        self.id = id
        self.timeNs = timeNs
        self.tags = tags
        self.silos = silos
    }
}

/// The verdict for one snapshot.
public struct RetentionDecision: Sendable, Equatable {
    public var id: String
    public var timeNs: Int64
    /// The group the policy was applied in: the snapshot's silo names, sorted, comma-separated.
    public var group: String
    public var keep: Bool
    /// Every rule that kept it (`last`, `daily`, `oldest weekly`, `within 2d`, `tag X`, `pre-restore safety`); empty when removed.
    public var reasons: [String]
}

extension RetentionPolicy {
    /// Applies the policy (restic `forget` semantics) to `items`.
    ///
    /// Snapshots are grouped by their set of silos; in each group, newest first, `last` keeps the
    /// first N, and each calendar rule keeps the newest snapshot of each of its N most recent
    /// buckets (hour, day, ISO week, month, year in `timeZone`). When a calendar rule still has
    /// buckets left at the group's oldest snapshot, that one is kept too ("oldest daily", ...).
    /// `within` keeps snapshots newer than the duration before the group's newest snapshot;
    /// `tag` keeps snapshots with the tag. `pre-restore` safety snapshots are outside the
    /// schedule: each is kept for `safetyDays` after it was taken (relative to `now`), then
    /// removed unless a tag rule keeps it. Items without `silo` (when set) are left out of the result.
    public func select(_ items: [RetentionItem], timeZone: TimeZone, now: Date) -> [RetentionDecision] {
        let considered = items.filter { silo == nil || $0.silos.contains(silo!) }
        var groups: [String: [RetentionItem]] = [:]
        for it in considered { groups[it.silos.sorted().joined(separator: ","), default: []].append(it) }
        var out: [RetentionDecision] = []
        for key in groups.keys.sorted() {
            out += selectGroup(groups[key]!, group: key, timeZone: timeZone, now: now)
        }
        return out.sorted { ($0.timeNs, $0.id) < ($1.timeNs, $1.id) }
    }

    private func selectGroup(_ items: [RetentionItem], group: String, timeZone: TimeZone, now: Date) -> [RetentionDecision] {
        let nowNs = Int64(now.timeIntervalSince1970 * 1e9)
        let safetyNs = Int64(RetentionPolicy.safetyDays) * 86_400 * 1_000_000_000
        var out: [RetentionDecision] = []
        // Safety snapshots are decided apart from the schedule.
        var scheduled: [RetentionItem] = []
        for it in items {
            if it.tags.contains(RetentionPolicy.safetyTag) {
                var reasons = keepTags.filter { it.tags.contains($0) }.map { "tag \($0)" }
                if nowNs - it.timeNs < safetyNs { reasons.append("pre-restore safety (\(RetentionPolicy.safetyDays) days)") }
                out.append(RetentionDecision(id: it.id, timeNs: it.timeNs, group: group, keep: !reasons.isEmpty, reasons: reasons))
            } else {
                scheduled.append(it)
            }
        }
        let list = scheduled.sorted { ($0.timeNs, $0.id) > ($1.timeNs, $1.id) }
        guard let newest = list.first else { return out }
        var withinLimit: Int64?
        if let w = keepWithin, !w.isZero {
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = timeZone
            let latest = Date(timeIntervalSince1970: Double(newest.timeNs) / 1e9)
            let back = cal.date(byAdding: DateComponents(year: -w.years, month: -w.months, day: -w.days), to: latest) ?? latest
            withinLimit = Int64((back.timeIntervalSince1970 - Double(w.hours) * 3600) * 1e9)
        }
        struct Bucket { var count: Int; let name: String; let key: (LocalTime, Int) -> Int; var last: Int? }
        var buckets: [Bucket] = [
            Bucket(count: keepLast ?? 0, name: "last", key: { _, nr in nr }, last: nil),
            Bucket(count: keepHourly ?? 0, name: "hourly", key: { t, _ in t.dayNumber * 24 + t.hour }, last: nil),
            Bucket(count: keepDaily ?? 0, name: "daily", key: { t, _ in t.dayNumber }, last: nil),
            Bucket(count: keepWeekly ?? 0, name: "weekly", key: { t, _ in t.isoWeekKey }, last: nil),
            Bucket(count: keepMonthly ?? 0, name: "monthly", key: { t, _ in t.year * 12 + t.month }, last: nil),
            Bucket(count: keepYearly ?? 0, name: "yearly", key: { t, _ in t.year }, last: nil),
        ]
        for (nr, it) in list.enumerated() {
            var reasons = keepTags.filter { it.tags.contains($0) }.map { "tag \($0)" }
            if let limit = withinLimit, it.timeNs > limit { reasons.append("within \(keepWithin!)") }
            let local = LocalTime(ns: it.timeNs, timeZone: timeZone)
            let oldest = nr == list.count - 1
            for i in buckets.indices where buckets[i].count > 0 {
                let val = buckets[i].key(local, nr)
                if val != buckets[i].last {
                    buckets[i].last = val
                    buckets[i].count -= 1
                    reasons.append(buckets[i].name)
                } else if oldest {
                    // The rule has buckets left but no older snapshot: keep the oldest (restic 0.17).
                    reasons.append("oldest \(buckets[i].name)")
                }
            }
            out.append(RetentionDecision(id: it.id, timeNs: it.timeNs, group: group, keep: !reasons.isEmpty, reasons: reasons))
        }
        return out
    }
}

/// A moment as civil date and hour in a time zone (the zone's offset at that moment, so DST applies).
struct LocalTime {
    var year: Int, month: Int, day: Int, hour: Int
    /// Days since 1970-01-01 of the local date.
    var dayNumber: Int

    init(ns: Int64, timeZone: TimeZone) {
        let seconds = Int(ns / 1_000_000_000) - (ns < 0 && ns % 1_000_000_000 != 0 ? 1 : 0)
        let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds)))
        let local = seconds + offset
        dayNumber = Int((Double(local) / 86_400).rounded(.down))
        hour = (local - dayNumber * 86_400) / 3600
        (year, month, day) = LocalTime.civil(dayNumber)
    }

    /// Proleptic Gregorian date of a day number (Howard Hinnant's `civil_from_days`).
    static func civil(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Day number of a civil date (`days_from_civil`).
    static func days(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// ISO-8601 week as `weekYear * 100 + week` (weeks start on Monday; week 1 holds the year's first Thursday).
    var isoWeekKey: Int {
        let weekday = ((dayNumber % 7) + 7 + 3) % 7 + 1 // 1970-01-01 was a Thursday; Monday = 1
        let ordinal = dayNumber - LocalTime.days(year, 1, 1) + 1
        var week = (ordinal - weekday + 10) / 7
        var wy = year
        if week < 1 {
            wy -= 1
            week = LocalTime.isoWeeks(in: wy)
        } else if week > LocalTime.isoWeeks(in: year) {
            wy += 1
            week = 1
        }
        return wy * 100 + week
    }

    /// 52 or 53: a year has 53 ISO weeks when it starts on a Thursday, or is a leap year starting on a Wednesday.
    static func isoWeeks(in y: Int) -> Int {
        let jan1 = ((days(y, 1, 1) % 7) + 7 + 3) % 7 + 1
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        return jan1 == 4 || (leap && jan1 == 3) ? 53 : 52
    }
}
