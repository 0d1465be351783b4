#include "async_redis.hpp"

#include <hiredis/async.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <charconv>
#include <iostream>
#include <stdexcept>

namespace chatdesk::gateway {
namespace net = boost::asio;
using boost::system::error_code;

namespace {

// hiredis frees every reply right after its callback returns (0.14 has no way to keep it), but a
// batch's replies must live until the whole batch is answered. The reader's object functions are
// swapped for a copy whose freeObject skips the one reply on_reply just took: on_reply sets it,
// and hiredis' free right after the callback clears it. Everything else (partial replies on an
// error or disconnect) is freed as usual.
thread_local void* t_kept_reply = nullptr;
void (*g_free_reply)(void*) = nullptr;

void free_unless_kept(void* reply) {
  if (reply == t_kept_reply) {
    t_kept_reply = nullptr;
    return;
  }
  g_free_reply(reply);
}

// Static: the reader still frees through it in redisFree(), after the adapter's cleanup.
redisReplyObjectFunctions* keeping_functions(const redisReplyObjectFunctions* defaults) {
  static redisReplyObjectFunctions functions = [defaults] {
    redisReplyObjectFunctions f = *defaults;
    g_free_reply = f.freeObject;
    f.freeObject = free_unless_kept;
    return f;
  }();
  return &functions;
}

// hiredis writes with write(2): a peer that went away would raise SIGPIPE and kill the process.
// For the scope of one redisAsyncHandleWrite, SIGPIPE is blocked on this thread (process-wide
// state untouched) and, when the write failed, the SIGPIPE it left pending is consumed.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (sigismember(&old_, SIGPIPE)) return;  // blocked already: leave it to whoever did that
    if (consume_) {
      const timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;
  void consume() { consume_ = true; }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool consume_ = false;
};

}  // namespace

// --- RedisBatch ----------------------------------------------------------------------------

void RedisBatch::add(std::span<const std::string_view> args) {
  if (args.empty()) throw std::invalid_argument("RedisBatch::add: a command needs a name");
  char digits[24];
  const auto header = [&](char kind, std::size_t n) {
    buffer_ += kind;
    const auto r = std::to_chars(digits, digits + sizeof digits, n);
    buffer_.append(digits, r.ptr);
    buffer_.append("\r\n", 2);
  };
  header('*', args.size());
  for (std::string_view a : args) {
    header('$', a.size());
    buffer_.append(a);
    buffer_.append("\r\n", 2);
  }
  ends_.push_back(buffer_.size());
}

// --- the Asio adapter ----------------------------------------------------------------------

// One hiredis context and the descriptor Asio waits on for it. hiredis owns the socket: the
// descriptor only waits on it and is released, never closed. hiredis' ev hooks are level-like
// (addRead holds until delRead) while an Asio wait is one-shot, so a wait is re-armed after each
// event for as long as hiredis still wants it. `ac` is null once hiredis cleaned up (the context
// is being freed): the waits still queued in Asio, which hold this object, then return without
// touching it.
struct AsyncRedis::Connection : std::enable_shared_from_this<Connection> {
  Connection(net::io_context& ioc, AsyncRedis& o, redisAsyncContext* context)
      : owner(&o), ac(context), descriptor(ioc) {}

  AsyncRedis* owner;
  redisAsyncContext* ac;
  net::posix::stream_descriptor descriptor;
  bool want_read = false, want_write = false;
  bool read_waiting = false, write_waiting = false;

  void wait_read() {
    if (read_waiting || !ac || !want_read) return;
    read_waiting = true;
    descriptor.async_wait(net::posix::stream_descriptor::wait_read,
                          [self = shared_from_this()](const error_code& ec) {
                            self->read_waiting = false;
                            if (!self->ac || !self->want_read) return;
                            if (ec) return self->owner->drop(ec);
                            redisAsyncHandleRead(self->ac);  // replies, callbacks; may free ac
                            self->wait_read();
                          });
  }

  void wait_write() {
    if (write_waiting || !ac || !want_write) return;
    write_waiting = true;
    descriptor.async_wait(net::posix::stream_descriptor::wait_write,
                          [self = shared_from_this()](const error_code& ec) {
                            self->write_waiting = false;
                            if (!self->ac || !self->want_write) return;
                            if (ec) return self->owner->drop(ec);
                            {
                              SigpipeBlock block;
                              // The first call completes the connect (on_connect), then writes.
                              redisAsyncHandleWrite(self->ac);
                              if (!self->ac) block.consume();  // the write failed
                            }
                            self->wait_write();
                          });
  }

  static Connection& of(void* p) { return *static_cast<Connection*>(p); }
  static void add_read(void* p) {
    of(p).want_read = true;
    of(p).wait_read();
  }
  static void del_read(void* p) { of(p).want_read = false; }
  static void add_write(void* p) {
    of(p).want_write = true;
    of(p).wait_write();
  }
  static void del_write(void* p) { of(p).want_write = false; }
  // hiredis is freeing the context (its pending callbacks ran or run with no reply); it closes
  // the socket itself afterwards. Idempotent: newer hiredis calls it twice.
  static void cleanup(void* p) {
    Connection& c = of(p);
    if (!c.ac) return;
    const redisAsyncContext* context = c.ac;
    c.ac = nullptr;
    c.want_read = c.want_write = false;
    error_code ignored;
    c.descriptor.cancel(ignored);  // queued waits complete with operation_aborted...
    (void)c.descriptor.release();  // ...and the fd stays open for hiredis to close
    c.owner->connection_gone(c, context);
  }
};

// --- AsyncRedis ----------------------------------------------------------------------------

AsyncRedis::AsyncRedis(net::io_context& ioc, monitor::RedisEndpoint endpoint,
                       AsyncRedisOptions options)
    : ioc_(ioc),
      endpoint_(std::move(endpoint)),
      options_(options),
      backoff_(options.backoff_initial),
      connect_timer_(ioc),
      retry_timer_(ioc),
      io_timer_(ioc) {
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty())
      handshake_.add({"AUTH", endpoint_.password});
    else
      handshake_.add({"AUTH", endpoint_.user, endpoint_.password});
  }
  if (endpoint_.db != 0) handshake_.add({"SELECT", std::to_string(endpoint_.db)});
}

AsyncRedis::~AsyncRedis() {
  running_ = false;
  ++attempt_;
  // Not inside a hiredis callback (user code runs only in posted handlers): the context goes at
  // once and connection_gone() posts the pending batches' completions.
  drop(net::error::operation_aborted);
  *alive_ = false;
  retired_.reset();
}

redisAsyncContext* AsyncRedis::context() const {
  return connection_ ? connection_->ac : nullptr;
}

void AsyncRedis::start() {
  if (running_) return;
  running_ = true;
  backoff_ = options_.backoff_initial;
  connect();
}

void AsyncRedis::stop() {
  if (!running_) return;
  running_ = false;
  ++attempt_;
  retry_timer_.cancel();
  connect_timer_.cancel();
  io_timer_.cancel();
  drop(net::error::operation_aborted);
  state_ = State::stopped;
}

void AsyncRedis::connect() {
  retired_.reset();  // its context is long freed: no hiredis call of it is on the stack here
  ++attempt_;
  state_ = State::connecting;
  // Non-blocking connect (a host name is resolved first, blocking).
  redisAsyncContext* ac = redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  if (!ac || ac->err) {
    log_failure("cannot connect", ac ? ac->errstr : "out of memory");
    if (ac) redisAsyncFree(ac);  // no ev hooks yet: nothing but the free
    return schedule_retry();
  }
  ac->c.reader->fn = keeping_functions(ac->c.reader->fn);
  auto connection = std::make_shared<Connection>(ioc_, *this, ac);
  error_code ec;
  connection->descriptor.assign(ac->c.fd, ec);
  if (ec) {
    log_failure("cannot watch the socket", ec.message());
    redisAsyncFree(ac);
    return schedule_retry();
  }
  const int one = 1;
  ::setsockopt(ac->c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ac->data = this;
  ac->ev.data = connection.get();
  ac->ev.addRead = &Connection::add_read;
  ac->ev.delRead = &Connection::del_read;
  ac->ev.addWrite = &Connection::add_write;
  ac->ev.delWrite = &Connection::del_write;
  ac->ev.cleanup = &Connection::cleanup;
  connection_ = std::move(connection);
  // After the hooks: setting it waits for the first write event, the end of the TCP connect.
  redisAsyncSetConnectCallback(ac, &AsyncRedis::on_connect);
  // AUTH/SELECT go out right behind the connect; hiredis holds them until then.
  handshake_left_ = handshake_.size();
  for (std::size_t i = 0; i < handshake_.size(); ++i) {
    const std::string_view cmd = handshake_.command(i);
    redisAsyncFormattedCommand(ac, &AsyncRedis::on_handshake_reply, this, cmd.data(), cmd.size());
  }
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([this, alive = alive_, attempt = attempt_](const error_code& e) {
    if (e || !*alive || attempt != attempt_ || state_ != State::connecting) return;
    log_failure("cannot connect", "timed out");
    drop(net::error::timed_out);
  });
}

void AsyncRedis::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<AsyncRedis*>(ac->data);
  if (status != REDIS_OK) {
    // hiredis frees the context right after this; cleanup reports it (connection_gone).
    self->log_failure("cannot connect", ac->c.errstr);
    return;
  }
  if (self->handshake_left_ == 0) self->handshake_done();
}

void AsyncRedis::on_handshake_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<AsyncRedis*>(privdata);
  const auto* r = static_cast<const redisReply*>(reply);
  if (!r) return;  // the context is going: cleanup follows
  if (r->type == REDIS_REPLY_ERROR) {
    // A wrong password or db: never ready. Freed after this callback; tried again after backoff.
    self->log_failure("AUTH/SELECT refused", std::string_view(r->str, r->len));
    self->drop_reason_ = net::error::connection_refused;
    redisAsyncFree(ac);
    return;
  }
  if (--self->handshake_left_ == 0) self->handshake_done();
}

void AsyncRedis::handshake_done() {
  state_ = State::ready;
  ++attempt_;  // the connect timer's handler, if already queued, finds nothing to do
  connect_timer_.cancel();
  backoff_ = options_.backoff_initial;
  failing_ = false;
  notify(true);
}

void AsyncRedis::drop(const error_code& reason) {
  redisAsyncContext* ac = context();
  if (!ac) return;
  drop_reason_ = reason;
  // From outside hiredis: the context is freed at once; hiredis runs every pending callback with
  // no reply, then the cleanup hook (connection_gone).
  redisAsyncFree(ac);
}

void AsyncRedis::connection_gone(Connection& connection, const redisAsyncContext* context) {
  if (connection_.get() != &connection) return;
  // Keep the adapter until hiredis is done with the context (it is freed when this returns).
  retired_ = std::move(connection_);
  const error_code reason = drop_reason_ ? drop_reason_ : net::error::connection_reset;
  drop_reason_ = {};
  const bool was_ready = state_ == State::ready;
  state_ = running_ ? State::backoff : State::stopped;
  ++attempt_;
  connect_timer_.cancel();
  if (was_ready && reason != net::error::operation_aborted) {
    log_failure("connection lost",
                context->c.err ? std::string_view(context->c.errstr) : reason.message());
  }
  // Whatever had not been answered now never will be: fail it, in order.
  while (!in_flight_.empty()) {
    finish(std::move(in_flight_.front()), reason);
    in_flight_.pop_front();
  }
  if (was_ready) notify(false);
  if (running_) schedule_retry();
}

void AsyncRedis::schedule_retry() {
  state_ = State::backoff;
  retry_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  retry_timer_.async_wait([this, alive = alive_, attempt = attempt_](const error_code& ec) {
    if (ec || !*alive || attempt != attempt_ || !running_) return;
    connect();
  });
}

void AsyncRedis::send(const RedisBatch& batch, Done done) {
  redisAsyncContext* ac = context();
  if (state_ != State::ready || !ac) {
    Pending p;
    p.done = std::move(done);
    return finish(std::move(p), net::error::not_connected);
  }
  Pending p;
  p.done = std::move(done);
  p.expected = batch.size();
  p.replies.reserve(batch.size());
  p.deadline = std::chrono::steady_clock::now() + options_.io_timeout;
  if (batch.empty()) {
    if (in_flight_.empty()) return finish(std::move(p), {});
    in_flight_.push_back(std::move(p));  // completes right behind the batch before it
    return;
  }
  in_flight_.push_back(std::move(p));
  ++round_trips_;
  commands_ += batch.size();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::string_view cmd = batch.command(i);
    // Appended to hiredis' output buffer: the whole batch goes in the next write.
    if (redisAsyncFormattedCommand(ac, &AsyncRedis::on_reply, this, cmd.data(), cmd.size()) !=
        REDIS_OK) {
      // Only when the context is going (or out of memory): drop it, every batch fails.
      return drop(net::error::connection_reset);
    }
  }
  arm_io_timer();
}

void AsyncRedis::on_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* self = static_cast<AsyncRedis*>(privdata);
  if (!reply) return;  // the context is going: connection_gone() fails the batches
  if (self->in_flight_.empty()) return;  // not ours (hiredis frees it)
  Pending& front = self->in_flight_.front();
  t_kept_reply = reply;  // kept past hiredis' free right after this callback
  front.replies.push_back(static_cast<redisReply*>(reply));
  while (!self->in_flight_.empty() && self->in_flight_.front().complete()) {
    self->finish(std::move(self->in_flight_.front()), {});
    self->in_flight_.pop_front();
  }
}

void AsyncRedis::finish(Pending&& pending, const error_code& ec) {
  // Posted, never run here: `done` may send, stop or destroy this object, none of which may
  // happen inside send() or a hiredis callback. The handler owns the replies.
  net::post(ioc_, [p = std::move(pending), ec]() mutable {
    if (!p.done) return;
    if (ec)
      p.done(ec, {});
    else
      p.done(ec, std::span<redisReply* const>(p.replies));
  });
}

void AsyncRedis::arm_io_timer() {
  if (io_timer_armed_ || in_flight_.empty()) return;
  io_timer_armed_ = true;
  // One wait at a time, at the oldest batch's deadline; re-armed for the next when it fires.
  io_timer_.expires_at(in_flight_.front().deadline);
  io_timer_.async_wait([this, alive = alive_](const error_code&) {
    if (!*alive) return;
    io_timer_armed_ = false;
    if (state_ != State::ready || in_flight_.empty()) return;
    if (std::chrono::steady_clock::now() >= in_flight_.front().deadline) {
      log_failure("no answer", "timed out");
      return drop(net::error::timed_out);
    }
    arm_io_timer();
  });
}

void AsyncRedis::notify(bool up) {
  net::post(ioc_, [this, alive = alive_, up] {
    if (*alive && on_connection_) on_connection_(up);
  });
}

void AsyncRedis::log_failure(std::string_view what, std::string_view why) {
  // Once per failure streak: a Redis that stays away is not logged at every retry.
  if (failing_) return;
  failing_ = true;
  std::cerr << "chatdesk-gateway: redis " << endpoint_.host << ':' << endpoint_.port << ": " << what
            << " (" << why << "); retrying with backoff up to " << options_.backoff_max.count()
            << " ms\n";
}

}  // namespace chatdesk::gateway
