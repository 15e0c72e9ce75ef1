// The key slots of a repository, stored as `.keys` objects through `any Backend`: create the
// first slot, unlock, add, remove and change a password without touching any other object.
// Slots are write-once objects; a password change writes the new slot before deleting the old.

import Foundation
import CairnStorage

/// A master key opened by a password, and the slot that opened it.
public struct UnlockedKey: Sendable {
    public let key: MasterKey
    /// The id of the slot the password opened.
    public let slot: String
}

/// The key slots of one repository.
public struct KeyStore: Sendable {
    public let backend: any Backend
    /// The repository id every slot is bound to.
    public let repository: String

    public init(backend: any Backend, repository: String) {
        self.backend = backend
        self.repository = repository
    }

    /// Ids of the stored slots, in byte order.
    public func slotIds() async throws -> [String] {
        try await backend.listAll(.keys).map(\.handle.name)
    }

    func handle(_ id: String) throws -> ObjectHandle {
        guard let h = ObjectHandle(.keys, id) else {
            throw CairnError(.invalidInput, "'\(id.prefix(80))' is not a key slot id (32 hex digits); list them with `cairn key list`")
        }
        return h
    }

    /// Reads and checks one slot.
    public func slot(_ id: String) async throws -> KeySlot {
        let h = try handle(id)
        let bytes: [UInt8]
        do { bytes = try await backend.bytes(h, limit: KeySlot.maxSize + 1) } catch let e as StorageError where e.kind == .notFound {
            throw CairnError(.notFound, "repository \(backend.location) has no key slot \(id); list them with `cairn key list`", path: "keys/\(id)")
        }
        return try KeySlot.decode(bytes, expectedId: id, repository: repository)
    }

    /// Every slot, checked. A damaged slot is an error naming it.
    public func slots() async throws -> [KeySlot] {
        var out: [KeySlot] = []
        for id in try await slotIds() { out.append(try await slot(id)) }
        return out
    }

    /// Draws a new master key and stores its first slot (for `cairn init --encryption`).
    public func initialize(password: [UInt8], params: ScryptParams = .default, label: String = "") async throws -> UnlockedKey {
        guard try await slotIds().isEmpty else {
            throw CairnError(.alreadyExists, "repository \(backend.location) already has key slots; add a password with `cairn key add`")
        }
        let key = MasterKey.generate()
        let slot = try await add(key: key, password: password, params: params, label: label)
        return UnlockedKey(key: key, slot: slot.id)
    }

    /// Opens the master key with `password`, trying each slot in turn. No slot at all (or none
    /// readable) is `keyMissing` (exit 29); slots that the password does not open are
    /// `wrongPassword` (exit 28).
    public func unlock(password: [UInt8]) async throws -> UnlockedKey {
        let ids = try await slotIds()
        var damaged: CairnError?
        var tried = 0
        for id in ids {
            let s: KeySlot
            do { s = try await slot(id) } catch let e as CairnError where e.code == .integrity || e.code == .unsupportedFormat {
                damaged = damaged ?? e
                continue
            }
            tried += 1
            if let key = try s.unwrap(password: password) { return UnlockedKey(key: key, slot: id) }
        }
        if tried == 0 {
            let why = damaged.map { " (\($0.message))" } ?? ""
            throw CairnError(.keyMissing, "repository \(backend.location) has no usable key slot\(why); it cannot be decrypted without one, restore the keys/ folder from a copy of the repository", path: damaged?.path)
        }
        throw CairnError(.wrongPassword, "the password opens none of the \(tried) key slot\(tried == 1 ? "" : "s") of \(backend.location); check CAIRN_PASSWORD, --password-file or --password-command and try again")
    }

    /// Stores a new slot for `key` under `password` and returns it.
    @discardableResult
    public func add(key: MasterKey, password: [UInt8], params: ScryptParams = .default, label: String = "") async throws -> KeySlot {
        try Password.checkNew(password)
        let slot = try KeySlot.make(key: key, password: password, repository: repository, params: params, label: label,
                                    created: ISO8601DateFormatter().string(from: Date()))
        try await backend.put(try handle(slot.id), bytes: try slot.encoded())
        return slot
    }

    /// Removes slot `id` after `password` opened some slot. The last slot is never removed
    /// (the repository would become unreadable for good).
    public func remove(_ id: String, password: [UInt8]) async throws {
        _ = try await slot(id)
        _ = try await unlock(password: password)
        let ids = try await slotIds()
        guard ids.count > 1 else {
            throw CairnError(.invalidInput, "key slot \(id) is the only one of \(backend.location); removing it would make every snapshot unreadable, add another with `cairn key add` first")
        }
        try await backend.delete(try handle(id))
    }

    /// Replaces the slot `old` opens with a new slot under `new`: the new slot is stored first,
    /// then the old one deleted (a crash in between leaves both passwords working). Returns the
    /// new slot. No data object changes.
    public func changePassword(old: [UInt8], new: [UInt8], params: ScryptParams = .default) async throws -> KeySlot {
        let unlocked = try await unlock(password: old)
        let label = (try? await slot(unlocked.slot).label) ?? ""
        let slot = try await add(key: unlocked.key, password: new, params: params, label: label)
        try await backend.delete(try handle(unlocked.slot))
        return slot
    }
}
