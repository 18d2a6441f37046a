// The C callbacks libmicrohttpd calls, and the Unmanaged context passing they need, in one place.
import CMicroHTTPD

#if canImport(Glibc)
import Glibc
#endif

let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadDataSize, conCls in
    guard let cls, let connection, let conCls, let uploadDataSize else { return .NO }
    let context = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()

    // First call for a request (its headers are in): allocate the place where its body
    // collects, and mark the connection busy, so it is not evicted while it is served.
    guard let existing = conCls.pointee else {
        conCls.pointee = Unmanaged.passRetained(PendingRequest()).toOpaque()
        if let table = context.connections, let id = CMicroHTTPD_socket_context(connection) { table.setBusy(Int(bitPattern: id), true) }
        return .YES
    }
    let pending = Unmanaged<PendingRequest>.fromOpaque(existing).takeUnretainedValue()
    // A parked connection was resumed: send the answer it waited for.
    if uploadDataSize.pointee == 0, let reply = context.takeReply(pending) {
        return queue(reply, on: connection)
    }
    if uploadDataSize.pointee > 0 {
        if let uploadData {
            let room = context.maxBodyBytes - pending.body.count
            let count = Int(uploadDataSize.pointee)
            if room > 0 {
                uploadData.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
                    pending.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: min(room, count)))
                }
            }
            if count > room { pending.truncated = true }
        }
        uploadDataSize.pointee = 0
        return .YES
    }

    // A body past the server's limit is refused, not cut and served.
    if pending.truncated {
        return queue(
            HTTPResponse(status: 413, contentType: "text/plain; charset=utf-8", body: "request body too large (at most \(context.maxBodyBytes) bytes)\n"),
            on: connection)
    }
    let fullURL = url.map { String(cString: $0) } ?? "/"
    let path = fullURL.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
    let request = HTTPRequest(
        method: method.map { String(cString: $0) } ?? "GET",
        path: path,
        query: connectionValues(connection, kind: .GET_ARGUMENT_KIND),
        headers: connectionValues(connection, kind: .HEADER_KIND),
        body: pending.body,
        bodyTruncated: pending.truncated
    )
    var withAddress = request
    withAddress.remoteAddress = clientAddress(connection)
    withAddress.clientCertificate = clientCertificate(connection)
    if let refusal = context.clientAuth.refusal(for: withAddress.clientCertificate) {
        return queue(HTTPResponse(status: 403, contentType: "text/plain; charset=utf-8", body: refusal + "\n"), on: connection)
    }
    let response = context.handler(withAddress)
    if response.closeWithoutResponse { return .NO }
    if let deferred = response.deferred {
        guard context.canSuspend else {
            return queue(HTTPResponse(status: 501, contentType: "text/plain; charset=utf-8", body: "not available on this server\n"), on: connection)
        }
        guard context.park(pending, on: connection) else {
            return queue(HTTPResponse(status: 503, contentType: "text/plain; charset=utf-8", body: "the server is stopping\n"), on: connection)
        }
        let parkedRequest = UncheckedSendable(pending)
        deferred.start { answer in context.reply(parkedRequest.value, with: answer) }
        return .YES
    }
    return queue(response, on: connection)
}

let completedHandler: MHD_RequestCompletedCallback = { cls, connection, conCls, _ in
    if let cls, let connection, let table = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().connections,
        let id = CMicroHTTPD_socket_context(connection)
    {
        table.setBusy(Int(bitPattern: id), false)
    }
    guard let conCls, let pointer = conCls.pointee else { return }
    Unmanaged<PendingRequest>.fromOpaque(pointer).release()
    conCls.pointee = nil
}

/// Connections opening and closing: the server's own per-address limit (`ConnectionTable`).
let notifyHandler: MHD_NotifyConnectionCallback = { cls, connection, socketContext, code in
    guard let cls, let connection, let socketContext,
        let table = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().connections
    else { return }
    if code.rawValue == 0 {  // MHD_CONNECTION_NOTIFY_STARTED
        let id = table.opened(address: clientAddress(connection), fd: CMicroHTTPD_connection_fd(connection))
        socketContext.pointee = UnsafeMutableRawPointer(bitPattern: id)
    } else if code.rawValue == 1, let id = socketContext.pointee {
        table.closed(Int(bitPattern: id))
    }
}

private func clientAddress(_ connection: OpaquePointer) -> String {
    guard let address = CMicroHTTPD_client_address(connection) else { return "" }
    let length = socklen_t(address.pointee.sa_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    guard getnameinfo(address, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { return "" }
    return cString(host)
}

private func clientCertificate(_ connection: OpaquePointer) -> ClientCertificate {
    switch CMicroHTTPD_peer_certificate(connection) {
    case CMicroHTTPDPeerNone: return .none
    case CMicroHTTPDPeerVerified: return .verified
    case CMicroHTTPDPeerUnverified: return .unverified
    default: return .notTLS
    }
}

private final class ValueCollector {
    var values: [(name: String, value: String)] = []
}

private func connectionValues(_ connection: OpaquePointer, kind: MHD_ValueKind) -> [(name: String, value: String)] {
    let collector = ValueCollector()
    let unmanaged = Unmanaged.passUnretained(collector).toOpaque()
    _ = MHD_get_connection_values(
        connection, kind,
        { cls, _, key, value in
            guard let cls, let key else { return .YES }
            let collector = Unmanaged<ValueCollector>.fromOpaque(cls).takeUnretainedValue()
            collector.values.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
            return .YES
        }, unmanaged)
    return withExtendedLifetime(collector) { collector.values }
}

private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let mhdResponse: OpaquePointer?
    if let shared = response.shared {
        // Not copied: each response holds a reference, given back by libmicrohttpd's callback.
        let reference = Unmanaged.passRetained(SentBody(shared, done: response.onDone)).toOpaque()
        mhdResponse = MHD_create_response_from_buffer_with_free_callback_cls(
            shared.count, shared.bytes.baseAddress,
            { cls in
                if let cls { Unmanaged<SentBody>.fromOpaque(cls).release() }
            }, reference)
        if mhdResponse == nil { Unmanaged<SentBody>.fromOpaque(reference).release() }
    } else {
        mhdResponse = response.body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), MHD_ResponseMemoryMode(rawValue: 2)!)
        }
    }
    guard let mhdResponse else { return .NO }
    defer { MHD_destroy_response(mhdResponse) }
    for header in response.headers {
        _ = MHD_add_response_header(mhdResponse, header.name, header.value)
    }
    return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
}

/// A value handed across threads where the context's lock guards every access to it.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
