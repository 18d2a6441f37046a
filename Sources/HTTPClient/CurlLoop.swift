// The thread that owns the CURLM handle: takes transfers from a locked inbox, runs them, resumes callers.
import CCurl
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One call in flight: the request, what has arrived so far, and the caller waiting for it.
/// The caller and the loop thread meet only in `waiter` (behind its lock); the rest belongs to
/// the loop thread once the transfer is submitted.
final class Transfer: @unchecked Sendable {
    typealias Waiter = CheckedContinuation<Result<HTTPClientResponse, HTTPClientError>, Never>
    let request: HTTPClientRequest
    private let waiter = Mutex<(continuation: Waiter?, cancelled: Bool, finished: Bool)>((nil, false, false))
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var status = 0
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    var truncated = false
    var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    init(request: HTTPClientRequest) {
        self.request = request
        body.reserveCapacity(min(request.maxBodyBytes, 4096))
    }

    /// Hands over the caller's continuation; false when the call was cancelled first (the
    /// continuation has then been resumed with `.cancelled`).
    func install(_ continuation: Waiter) -> Bool {
        let cancelled = waiter.withLock { state -> Bool in
            if state.cancelled {
                state.finished = true
                return true
            }
            state.continuation = continuation
            return false
        }
        if cancelled { continuation.resume(returning: .failure(.cancelled)) }
        return !cancelled
    }

    /// Marks the call cancelled; true when a continuation was waiting and is now answered.
    func markCancelled() {
        let waiting = waiter.withLock { state -> Waiter? in
            state.cancelled = true
            guard !state.finished, let continuation = state.continuation else { return nil }
            state.finished = true
            state.continuation = nil
            return continuation
        }
        waiting?.resume(returning: .failure(.cancelled))
    }

    var isCancelled: Bool { waiter.withLock { $0.cancelled } }

    /// Answers the caller, once; later calls do nothing.
    func finish(_ result: Result<HTTPClientResponse, HTTPClientError>) {
        let waiting = waiter.withLock { state -> Waiter? in
            guard !state.finished, let continuation = state.continuation else { return nil }
            state.finished = true
            state.continuation = nil
            return continuation
        }
        waiting?.resume(returning: result)
    }
}

final class CurlLoop: @unchecked Sendable {
    private struct Inbox {
        var added: [Transfer] = []
        var cancelled: [Transfer] = []
        var stopping = false
    }

    private let inbox = Mutex(Inbox())
    /// nil when libcurl could not make one: every call then fails with `startError`.
    private let multi: UnsafeMutableRawPointer?
    private var thread: pthread_t?
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    /// Finished easy handles, reset and kept for the next requests: setting one up from
    /// curl_easy_init for every probe costs more than resetting one.
    private var idle: [UnsafeMutableRawPointer] = []
    private static let idleLimit = 64
    private let stopped = Atomic<Bool>(false)
    /// Why the loop cannot run (an option refused, no thread): every call then fails with it.
    private var startError: HTTPClientError?
    /// The loop thread's name, as `ps -L` and `top -H` show it (the kernel keeps its first 15 bytes).
    static let threadName = "aoai-canary-curl"

    init(globalInit: CURLcode = CURLE_OK) {
        multi = globalInit == CURLE_OK ? curl_multi_init() : nil
        guard let multi else {
            startError = .setupFailed(
                option: globalInit == CURLE_OK ? "curl_multi_init" : "curl_global_init",
                message: String(cString: curl_easy_strerror(globalInit == CURLE_OK ? CURLE_OUT_OF_MEMORY : globalInit)))
            return
        }
        do {
            // Keep connections to each endpoint for reuse across rounds.
            try CurlOption.check(CCurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 256), "CURLMOPT_MAXCONNECTS")
        } catch {
            startError = error
        }
    }

    func start() {
        guard startError == nil else { return }
        do {
            thread = try NamedThread.start(name: Self.threadName, retaining: self) { $0.run() }
        } catch {
            startError = error
        }
    }

    func submit(_ transfer: Transfer) {
        if let startError {
            transfer.finish(.failure(startError))
            return
        }
        let accepted = inbox.withLock { inbox -> Bool in
            if inbox.stopping { return false }
            inbox.added.append(transfer)
            return true
        }
        if accepted {
            if let multi { curl_multi_wakeup(multi) }
        } else {
            transfer.finish(.failure(.cancelled))
        }
    }

    func cancel(_ transfer: Transfer) {
        // The caller hears at once; the loop thread then frees the handle if one was started.
        transfer.markCancelled()
        inbox.withLock { $0.cancelled.append(transfer) }
        if let multi { curl_multi_wakeup(multi) }
    }

    func stop() {
        guard !stopped.exchange(true, ordering: .sequentiallyConsistent) else { return }
        inbox.withLock { $0.stopping = true }
        if let multi { curl_multi_wakeup(multi) }
        if let thread { pthread_join(thread, nil) }
    }

    private func run() {
        guard let multi else { return }
        while true {
            let (added, cancelled, stopping) = inbox.withLock { inbox in
                defer {
                    inbox.added = []
                    inbox.cancelled = []
                }
                return (inbox.added, inbox.cancelled, inbox.stopping)
            }
            for transfer in added { begin(transfer) }
            for transfer in cancelled { abort(transfer, with: .cancelled) }
            if stopping {
                for transfer in Array(active.values) { abort(transfer, with: .cancelled) }
                break
            }
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            collectFinished()
            if performed != CURLM_OK { failAll(performed, in: "curl_multi_perform") }
            let polled = curl_multi_poll(multi, nil, 0, 1000, nil)
            if polled != CURLM_OK {
                failAll(polled, in: "curl_multi_poll")
                // Not a busy loop when polling keeps failing: wait as a poll would have.
                usleep(100_000)
            }
        }
        for easy in idle { curl_easy_cleanup(easy) }
        idle.removeAll()
        curl_multi_cleanup(multi)
    }

    private func begin(_ transfer: Transfer) {
        guard !transfer.isCancelled else { return }
        guard let easy = idle.popLast() ?? curl_easy_init() else {
            transfer.finish(.failure(.other(code: -1, message: "curl_easy_init failed")))
            return
        }
        transfer.easy = easy
        active[easy] = transfer
        do {
            try configure(easy, for: transfer)
        } catch {
            release(easy, transfer)
            transfer.finish(.failure(error))
            return
        }
        let added = curl_multi_add_handle(multi, easy)
        if added != CURLM_OK {
            release(easy, transfer)
            transfer.finish(.failure(.other(code: Int(added.rawValue), message: "curl_multi_add_handle: " + String(cString: curl_multi_strerror(added)))))
        }
    }

    /// The multi handle failed as a whole: every call in flight ends with that error rather than
    /// waiting for a result that will not come.
    private func failAll(_ code: CURLMcode, in call: String) {
        let error = HTTPClientError.other(code: Int(code.rawValue), message: "\(call): " + String(cString: curl_multi_strerror(code)))
        for transfer in Array(active.values) { abort(transfer, with: error) }
    }

    private func abort(_ transfer: Transfer, with error: HTTPClientError) {
        guard let easy = transfer.easy, active[easy] != nil else {
            // Not started yet (or already done): only answer the caller.
            transfer.finish(.failure(error))
            return
        }
        release(easy, transfer)
        transfer.finish(.failure(error))
    }

    private func release(_ easy: UnsafeMutableRawPointer, _ transfer: Transfer) {
        // A handle the multi handle would not let go of is not reused.
        let removed = multi.map { curl_multi_remove_handle($0, easy) } ?? CURLM_OK
        if removed == CURLM_OK, idle.count < Self.idleLimit {
            // Back to the defaults of curl_easy_init; connections stay in the multi handle's cache.
            curl_easy_reset(easy)
            idle.append(easy)
        } else {
            curl_easy_cleanup(easy)
        }
        if let list = transfer.headerList { curl_slist_free_all(list) }
        transfer.headerList = nil
        transfer.easy = nil
        active[easy] = nil
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = active[easy]
            else { continue }
            let code = message.pointee.data.result
            let timings = readTimings(easy)
            var status = 0
            // No status to read is no response: the transfer failed, whatever its code said.
            if CCurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK { status = 0 }
            let message = errorMessage(transfer, code)
            release(easy, transfer)
            if code == CURLE_OK || (code == CURLE_WRITE_ERROR && transfer.truncated) {
                transfer.finish(
                    .success(
                        HTTPClientResponse(
                            status: status, headers: transfer.headers, body: transfer.body,
                            bodyTruncated: transfer.truncated, timings: timings)))
            } else {
                transfer.finish(.failure(classify(code, message: message, timeout: transfer.request.timeoutSeconds)))
            }
        }
    }

    private func errorMessage(_ transfer: Transfer, _ code: CURLcode) -> String {
        let detail = String(decoding: transfer.errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }

    private func classify(_ code: CURLcode, message: String, timeout: Double) -> HTTPClientError {
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout(seconds: timeout)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .dnsFailed(message)
        case CURLE_COULDNT_CONNECT, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE,
            CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return .connectionFailed(message)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED:
            return .tlsFailed(message)
        default:
            return .other(code: Int(code.rawValue), message: message)
        }
    }

    private func readTimings(_ easy: UnsafeMutableRawPointer) -> HTTPTimings {
        // libcurl's *_TIME_T timers are whole microseconds: subtract in integers, divide once.
        func microseconds(_ info: CURLINFO) -> Int64 {
            var value: curl_off_t = 0
            _ = CCurl_getinfo_offset(easy, info, &value)
            return Int64(value)
        }
        func seconds(_ value: Int64) -> Double { Double(max(0, value)) / 1_000_000 }
        let lookup = microseconds(CURLINFO_NAMELOOKUP_TIME_T)
        let connect = microseconds(CURLINFO_CONNECT_TIME_T)
        let appConnect = microseconds(CURLINFO_APPCONNECT_TIME_T)
        let preTransfer = microseconds(CURLINFO_PRETRANSFER_TIME_T)
        let startTransfer = microseconds(CURLINFO_STARTTRANSFER_TIME_T)
        let total = microseconds(CURLINFO_TOTAL_TIME_T)
        var timings = HTTPTimings()
        timings.resolve = seconds(lookup)
        timings.connect = seconds(connect - lookup)
        timings.tls = appConnect > 0 ? seconds(appConnect - connect) : 0
        timings.processing = startTransfer > 0 ? seconds(startTransfer - preTransfer) : 0
        timings.transfer = startTransfer > 0 ? seconds(total - startTransfer) : 0
        timings.total = seconds(total)
        return timings
    }

    /// A timeout in whole milliseconds, at least 1 and at most a day: whatever the caller passes
    /// (NaN, infinity, 1e300), the conversion cannot trap.
    static func milliseconds(_ seconds: Double) -> Int {
        guard seconds.isFinite else { return 86_400_000 }
        return Int(min(max(seconds * 1000, 1), 86_400_000))
    }

    /// Sets the options of a call on a fresh (or reset) handle; the first one libcurl refuses ends it.
    private func configure(_ easy: UnsafeMutableRawPointer, for transfer: Transfer) throws(HTTPClientError) {
        let request = transfer.request
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        try CurlOption.check(CCurl_setopt_string(easy, CURLOPT_URL, request.url), "CURLOPT_URL")
        try CurlOption.check(CCurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try CurlOption.check(CCurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeoutSeconds)), "CURLOPT_TIMEOUT_MS")
        try CurlOption.check(CCurl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "CURLOPT_PROTOCOLS_STR")
        try CurlOption.check(CCurl_setopt_string(easy, CURLOPT_USERAGENT, "aoai-canary"), "CURLOPT_USERAGENT")
        try CurlOption.check(CCurl_setopt_pointer(easy, CURLOPT_PRIVATE, context), "CURLOPT_PRIVATE")
        let errorBuffer = transfer.errorBuffer.withUnsafeMutableBufferPointer { buffer in
            CCurl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(buffer.baseAddress))
        }
        try CurlOption.check(errorBuffer, "CURLOPT_ERRORBUFFER")
        if let caFile = request.caFile { try CurlOption.check(CCurl_setopt_string(easy, CURLOPT_CAINFO, caFile), "CURLOPT_CAINFO") }

        if let body = request.body {
            try CurlOption.check(CCurl_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "CURLOPT_POSTFIELDSIZE_LARGE")
            let copied = body.withUnsafeBufferPointer { bytes in
                CCurl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!))
            }
            try CurlOption.check(copied, "CURLOPT_COPYPOSTFIELDS")
            if request.method != "POST" { try CurlOption.check(CCurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method), "CURLOPT_CUSTOMREQUEST") }
        } else if request.method == "HEAD" {
            try CurlOption.check(CCurl_setopt_long(easy, CURLOPT_NOBODY, 1), "CURLOPT_NOBODY")
        } else if request.method != "GET" {
            try CurlOption.check(CCurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method), "CURLOPT_CUSTOMREQUEST")
        }

        var list: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        for header in request.headers {
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        transfer.headerList = list
        try CurlOption.check(CCurl_setopt_slist(easy, CURLOPT_HTTPHEADER, list), "CURLOPT_HTTPHEADER")

        try CurlOption.check(
            CCurl_setopt_write_callback(easy) { data, size, count, userdata in
                guard let data, let userdata else { return 0 }
                let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
                let length = size * count
                let room = transfer.request.maxBodyBytes - transfer.body.count
                data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                    transfer.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: min(max(room, 0), length)))
                }
                if length > room {
                    transfer.truncated = true
                    return 0  // stops the transfer: the rest of an oversized body is not needed
                }
                return length
            }, "CURLOPT_WRITEFUNCTION")
        try CurlOption.check(CCurl_setopt_pointer(easy, CURLOPT_WRITEDATA, context), "CURLOPT_WRITEDATA")
        try CurlOption.check(
            CCurl_setopt_header_callback(easy) { data, size, count, userdata in
                guard let data, let userdata else { return 0 }
                let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
                let length = size * count
                let line = data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                }
                if line.hasPrefix("HTTP/") {
                    transfer.headers = []  // a new response (after 100 Continue or a redirect)
                } else if let colon = line.firstIndex(of: ":") {
                    let name = String(line[..<colon])
                    let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n")
                    transfer.headers.append((name, value))
                }
                return length
            }, "CURLOPT_HEADERFUNCTION")
        try CurlOption.check(CCurl_setopt_pointer(easy, CURLOPT_HEADERDATA, context), "CURLOPT_HEADERDATA")
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

/// The one check of every option set on libcurl: a refusal becomes an error naming the option.
enum CurlOption {
    static func check(_ code: CURLcode, _ option: String) throws(HTTPClientError) {
        guard code != CURLE_OK else { return }
        throw .setupFailed(option: option, message: String(cString: curl_easy_strerror(code)))
    }

    static func check(_ code: CURLMcode, _ option: String) throws(HTTPClientError) {
        guard code != CURLM_OK else { return }
        throw .setupFailed(option: option, message: String(cString: curl_multi_strerror(code)))
    }
}

/// The one way a thread is made here: named, its creation checked, the object it runs
/// retained until it returns.
enum NamedThread {
    /// Starts `body(object)` on a new thread named `name` (Linux keeps its first 15 bytes).
    static func start<Object: AnyObject>(name: String, retaining object: Object, _ body: @escaping (Object) -> Void) throws(HTTPClientError) -> pthread_t {
        let start = Unmanaged.passRetained(ThreadStart(name: name) { body(object) }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { argument in
                let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
                _ = CCurl_name_this_thread(String(decoding: start.name.utf8.prefix(15), as: UTF8.self))
                start.body()
                return nil
            }, start)
        guard created == 0 else {
            Unmanaged<ThreadStart>.fromOpaque(start).release()
            throw .setupFailed(option: "pthread_create", message: String(cString: strerror(created)))
        }
        return thread
    }
}

/// What a new thread runs, handed to it through pthread_create's argument.
private final class ThreadStart {
    let name: String
    let body: () -> Void
    init(name: String, body: @escaping () -> Void) {
        self.name = name
        self.body = body
    }
}
