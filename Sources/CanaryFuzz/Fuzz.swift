// libFuzzer's entry point: feeds each input to the parser named by AOAI_FUZZ_TARGET. Built only
// by `make fuzz` (AOAI_CANARY_FUZZ=1), with `swift build --sanitize=fuzzer`.
import CanaryTestSupport
import Log

#if canImport(Glibc)
import Glibc
#endif

let target: FuzzEntry.Target = {
    let name = getenv("AOAI_FUZZ_TARGET").map { String(cString: $0) } ?? "config"
    guard let target = FuzzEntry.Target(rawValue: name) else {
        EventLogger.writeStderr("AOAI_FUZZ_TARGET must be one of \(FuzzEntry.Target.allCases.map(\.rawValue))\n")
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzEntry.run(target, Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
