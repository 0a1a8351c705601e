import NIOSSL
import SluiceCore

/// What the broker endpoints' `ssl` blocks read alike: a store's type, and a PKCS#12 key store file.
enum TLSStoreReading {
    /// The store's `type`, upper-cased; PEM when absent but other fields are given; nil for no store.
    static func storeType(_ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector) -> String? {
        if let type = reader.string("type", &diagnostics) { return type.uppercased() }
        return reader.object.keys.isEmpty ? nil : "PEM"
    }

    /// Loads the PKCS#12 key store file named by `fileKey` (with `password`) into `tls`; false (with a
    /// diagnostic) when it cannot.
    static func loadPKCS12(
        _ keyStore: ConfigurationReader, fileKey: String, into tls: inout TLSConfiguration,
        _ diagnostics: inout DiagnosticCollector
    ) -> Bool {
        guard let file = keyStore.string(fileKey, &diagnostics, required: true) else { return false }
        do {
            let bundle = try NIOSSLPKCS12Bundle(
                file: file, passphrase: keyStore.string("password", &diagnostics).map { Array($0.utf8) })
            tls.certificateChain = bundle.certificateChain.map { .certificate($0) }
            tls.privateKey = .privateKey(bundle.privateKey)
            return true
        } catch {
            diagnostics.error(keyStore.path.key(fileKey), "cannot read the PKCS#12 key store: \(error)")
            return false
        }
    }
}
