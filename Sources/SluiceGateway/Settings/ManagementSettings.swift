/// What `sluice serve` runs (`role`): the gateway, the management API, or both in one process.
public enum ServeRole: String, Sendable, CaseIterable {
    /// The gateway alone (what runs without a store).
    case gateway
    /// The management API alone, on the store (no gateway listener).
    case management
    /// Both, in one process (the default with a store).
    case all
}

/// The management REST API's settings (`management.*`).
public struct ManagementSettings: Sendable {
    /// The address it listens on (`management.host`). Default: the gateway's `host`.
    public var host: String?
    /// Default: 8083 (Gravitee's management API port).
    public var port = 8083
    /// The first admin's bearer token (`management.adminToken`, `SLUICE_MANAGEMENT_ADMIN_TOKEN`). Default: none; a
    /// store without users then gets a generated token, printed once to standard error.
    public var adminToken: String?
    /// A file whose first line is the admin token (`management.adminTokenFile`). Default: none.
    public var adminTokenFile: String?
    /// Larger request bodies are refused with 413 (`management.maxRequestBodyBytes`). Default: 8 MiB (the largest
    /// definition file the gateway reads).
    public var maxRequestBodyBytes = 8 << 20

    public init() {}
}
