// Where the diff engine gets its manifests: a tree block or a content list block by id.
//
// Diff is written against this protocol so it stays a pure function over trees: tests
// use `MemoryTreeSource` (which counts loads), the CLI uses `BlockReaderTreeSource`.

/// Loads manifest blocks for the diff engine.
public protocol TreeSource {
    /// The tree (directory node) stored in block `id`.
    func tree(_ id: BlockId) throws -> Tree
    /// The data refs of content list block `id` (files with `indirect == true`).
    func list(_ id: BlockId) throws -> [ContentRef]
}

/// An in-memory `TreeSource` for tests. Counts how many trees and lists it handed out,
/// so a test can prove that the diff skipped equal subtrees without loading them.
public final class MemoryTreeSource: TreeSource {
    private var trees: [BlockId: Tree] = [:]
    private var lists: [BlockId: [ContentRef]] = [:]
    /// Calls to `tree(_:)` that returned a tree.
    public private(set) var treesLoaded = 0
    /// Calls to `list(_:)` that returned a list.
    public private(set) var listsLoaded = 0

    public init() {}

    /// Stores `tree` under the SHA-256 of its encoding (as the repository would) and returns that id.
    @discardableResult
    public func add(_ tree: Tree) -> BlockId {
        let id = BlockId.hash(tree.encode())
        trees[id] = tree
        return id
    }

    /// Stores a content list under the SHA-256 of its encoding and returns that id.
    @discardableResult
    public func addList(_ refs: [ContentRef]) -> BlockId {
        let id = BlockId.hash(ContentList.encode(refs[...]))
        lists[id] = refs
        return id
    }

    /// Number of distinct trees stored.
    public var treeCount: Int { trees.count }

    /// Sets `treesLoaded` and `listsLoaded` back to zero.
    public func resetCounters() {
        treesLoaded = 0
        listsLoaded = 0
    }

    public func tree(_ id: BlockId) throws -> Tree {
        guard let t = trees[id] else { throw CairnError(.integrity, "tree \(id.hex) is missing") }
        treesLoaded += 1
        return t
    }

    public func list(_ id: BlockId) throws -> [ContentRef] {
        guard let l = lists[id] else { throw CairnError(.integrity, "list block \(id.hex) is missing") }
        listsLoaded += 1
        return l
    }
}

/// A `TreeSource` over a repository's `BlockReader`: every block is verified against its
/// SHA-256, and metadata blocks go through the reader's cache.
public struct BlockReaderTreeSource: TreeSource {
    public let reader: BlockReader

    public init(reader: BlockReader) { self.reader = reader }

    public func tree(_ id: BlockId) throws -> Tree {
        try Tree.decode(try reader.readMeta(id, context: "(tree) "), what: "tree \(id.hex)")
    }

    public func list(_ id: BlockId) throws -> [ContentRef] {
        try ContentList.decode(try reader.readMeta(id, context: "(content list) "), what: "list block \(id.hex)")
    }
}
