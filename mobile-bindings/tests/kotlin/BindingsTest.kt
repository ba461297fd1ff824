// The generated Kotlin bindings on the real library (through JNA): Kotlin plays the Android
// app, with a scripted server. Run by `cargo xtask mobile test`.
import app.gatebell.mobile.ClientUpdate
import app.gatebell.mobile.GatebellException
import app.gatebell.mobile.HttpRequest
import app.gatebell.mobile.HttpResponse
import app.gatebell.mobile.HttpTransport
import app.gatebell.mobile.KeyValueStore
import app.gatebell.mobile.MobilePlatform
import app.gatebell.mobile.PushClient
import app.gatebell.mobile.PushClientListener
import app.gatebell.mobile.PushKeys
import app.gatebell.mobile.decryptPushData
import app.gatebell.mobile.Route
import app.gatebell.mobile.routeApiPath
import app.gatebell.mobile.routeDecisionCall
import app.gatebell.mobile.routeFor
import kotlinx.coroutines.runBlocking

class ScriptedServer : HttpTransport {
    val devices = mutableMapOf<String, String>()
    var offline = false

    override suspend fun send(request: HttpRequest): HttpResponse {
        if (offline) throw GatebellException.Network("offline")
        val token = Regex("\"token\":\"([^\"]+)\"").find(request.body)!!.groupValues[1]
        return when (request.method) {
            "POST" -> {
                devices[token] = request.headers.getValue("Authorization")
                HttpResponse(200u, "{}")
            }
            else -> if (devices.remove(token) != null) HttpResponse(204u, "") else HttpResponse(404u, "")
        }
    }
}

class MemoryStore : KeyValueStore {
    val values = mutableMapOf<String, String>()
    override suspend fun get(key: String): String? = values[key]
    override suspend fun set(key: String, value: String) {
        values[key] = value
    }
}

class Recorder : PushClientListener {
    val updates = mutableListOf<ClientUpdate>()
    override fun onUpdate(update: ClientUpdate) {
        updates.add(update)
    }
}

var passed = 0

fun check(condition: Boolean, what: String) {
    if (!condition) throw AssertionError(what)
    passed += 1
    println("ok - $what")
}

fun main() = runBlocking {
    val server = ScriptedServer()
    val store = MemoryStore()
    val listener = Recorder()
    val client = PushClient(server, store, listener)

    client.signIn("session-1", "user-1")
    var status = client.tokenIssued("token-1", MobilePlatform.ANDROID, null)
    check(status.registered && server.devices == mapOf("token-1" to "Bearer session-1"), "registers the token")
    status = client.tokenIssued("token-2", MobilePlatform.ANDROID, null)
    check(server.devices.keys == setOf("token-2"), "a refreshed token replaces the old one")
    status = client.signOut()
    check(!status.signedIn && server.devices.isEmpty(), "sign-out unregisters")
    check(store.values.containsKey("gatebell.push.state"), "state is persisted in the app's store")
    check(listener.updates.any { it is ClientUpdate.StatusChanged }, "the listener hears status changes")

    // Notifications off: the token goes, the session stays, later tokens are ignored until on.
    client.signIn("session-1", "user-1")
    client.tokenIssued("token-2", MobilePlatform.ANDROID, null)
    status = client.disableNotifications()
    check(status.notificationsDisabled && status.signedIn && server.devices.isEmpty(), "turning notifications off unregisters")
    status = client.tokenIssued("token-9", MobilePlatform.ANDROID, null)
    check(!status.registered && server.devices.isEmpty(), "a token issued while off registers nothing")
    status = client.enableNotifications()
    check(!status.notificationsDisabled, "turning notifications on clears the flag")
    status = client.tokenIssued("token-2", MobilePlatform.ANDROID, null)
    check(status.registered && server.devices.keys == setOf("token-2"), "the next token registers again")
    client.signOut()

    // The token outlives the session: signing in again registers it for the new user.
    status = client.signIn("session-2", "user-2")
    check(status.registered && server.devices == mapOf("token-2" to "Bearer session-2"), "a new user gets the token")
    server.offline = true
    // No answer is not an error of the call (as in the web package): it is in the status.
    status = client.tokenIssued("token-3", MobilePlatform.ANDROID, null)
    check(
        !status.registered && status.lastError?.reason == "offline" && status.lastError?.willRetry == true,
        "a transport error resolves with a retrying status",
    )
    check(client.nextWakeAtMs() != null, "a retry is scheduled")

    val route = routeFor(mapOf("type" to "walkin_pending", "visitId" to "v-1"), "approve")
    check(route == Route.Approve("v-1"), "a tapped walk-in with Approve routes to approve")
    check(routeApiPath(route) == "/api/v1/visits/v-1/approve", "the approve call's path")
    val call = routeDecisionCall(route, "tok-1")!!
    check(call.path == "/api/v1/visits/v-1/decision", "the token decision's path")
    check(call.body == "{\"decision\":\"approve\",\"actionToken\":\"tok-1\"}", "the token decision's body")

    // RFC 8291 Appendix A (testkit::rfc8291_vector, copied): the bindings decrypt and
    // authenticate the vector's body; its plaintext is not a Gatebell payload, which is what
    // they then say. With another auth secret the record does not authenticate.
    val vector = mapOf(
        "encrypted" to "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
    )
    val uaPublic = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    val uaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
    fun decryptError(auth: String): String =
        try {
            decryptPushData(vector, PushKeys(uaPrivate, uaPublic, auth))
            "decrypted"
        } catch (e: GatebellException.InvalidArgument) {
            e.reason
        }
    check(decryptError("BTBZMqHH6r4Tts7J_aSIgg") == "encrypted push: not a Gatebell payload", "the RFC 8291 vector decrypts and authenticates")
    check(decryptError("AAAAAAAAAAAAAAAAAAAAAA").startsWith("encrypted push: authentication failed"), "the vector with another auth secret does not")
    println("$passed passed, 0 failed")
}
