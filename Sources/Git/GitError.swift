internal import CGit2

/// An error reported by libgit2: its result code, its error class and message.
public struct GitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libgit2's result code (`GIT_ENOTFOUND` is -3, `GIT_EAMBIGUOUS` -5, …).
    public var code: Int32
    /// libgit2's error class (`GIT_ERROR_REFERENCE`, `GIT_ERROR_OS`, …), 0 when none was set.
    public var errorClass: Int32
    public var message: String
    /// What was being done, such as `"resolve 'main~3'"`.
    public var operation: String

    public static let notFound: Int32 = GIT_ENOTFOUND.rawValue
    public static let ambiguous: Int32 = GIT_EAMBIGUOUS.rawValue
    public static let unbornBranch: Int32 = GIT_EUNBORNBRANCH.rawValue
    public static let invalidSpec: Int32 = GIT_EINVALIDSPEC.rawValue

    public init(code: Int32, errorClass: Int32 = 0, message: String, operation: String) {
        self.code = code
        self.errorClass = errorClass
        self.message = message
        self.operation = operation
    }

    /// Reads libgit2's last error. The error is per thread: call this right after the
    /// failing call, before any suspension point.
    init(code: Int32, operation: String) {
        if let last = git_error_last(), let text = last.pointee.message {
            self.init(code: code, errorClass: last.pointee.klass, message: String(cString: text), operation: operation)
        } else {
            self.init(code: code, message: "libgit2 error \(code)", operation: operation)
        }
    }

    public var description: String { "git: cannot \(operation): \(message)" }
}

/// Throws a `GitError` when `code` is negative.
@discardableResult
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
    if code < 0 { throw GitError(code: code, operation: operation()) }
    return code
}
