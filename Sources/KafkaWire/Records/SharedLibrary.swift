#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A C library opened at run time with `dlopen`, so that codecs whose libraries are missing fail with a clear error
/// when used instead of keeping the whole program from linking or starting.
///
/// Libraries are never closed: the function pointers taken from them are kept for the life of the process.
struct SharedLibrary {
    /// The file name that was opened.
    let fileName: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the first of `fileNames` that loads.
    /// - Parameter codec: named in the error, which also names the files tried and why each failed.
    static func open(codec: String, fileNames: [String]) throws(KafkaWireError) -> SharedLibrary {
        var reasons: [String] = []
        for fileName in fileNames {
            if let handle = dlopen(fileName, RTLD_NOW | RTLD_LOCAL) {
                return SharedLibrary(fileName: fileName, handle: handle)
            }
            reasons.append(dlerror().map { String(cString: $0) } ?? "\(fileName): cannot be opened")
        }
        throw KafkaWireError(
            .unsupportedCompression,
            "\(codec) compression needs \(fileNames.joined(separator: " or ")), which could not be loaded ("
                + reasons.joined(separator: "; ") + ")"
        )
    }

    /// The C function `name`, as the `@convention(c)` function type `type`.
    ///
    /// The type must match the C declaration; nothing can check that at run time.
    func function<Function>(_ name: String, as type: Function.Type) throws(KafkaWireError) -> Function {
        guard let symbol = dlsym(handle, name) else {
            throw KafkaWireError(.unsupportedCompression, "\(fileName) has no function \(name)")
        }
        return unsafeBitCast(symbol, to: type)
    }

    /// The library's file names to try on this platform, for a library whose Linux soname is `lib<name>.so.<major>`.
    static func candidateFileNames(name: String, major: Int) -> [String] {
        #if canImport(Darwin)
        ["lib\(name).\(major).dylib", "lib\(name).dylib", "/opt/homebrew/lib/lib\(name).dylib"]
        #else
        ["lib\(name).so.\(major)", "lib\(name).so"]
        #endif
    }
}
