// Sovereign's golden-data probe: a small program of our own, linked against
// a llama.cpp built from source by scripts/build-llama-cpp, that answers
// requests read from stdin, one per line, with one JSON line each on stdout.
// scripts/make-goldens drives it and writes Tests/Fixtures/llama-cpp-goldens.json.
//
// Requests (text arguments are hex-encoded UTF-8 so any byte survives):
//   tokenize <parse_special 0|1> <hex>   -> {"ids":[...]}
//   greedy <n_predict> <hex>             -> greedy decoding of the prompt (tokenized
//                                           with parse_special=1): per step the chosen
//                                           id and the top-5 (id, log-probability)
//   teacher <hex>                        -> one batch over the tokenized text: per
//                                           position the top-5 (id, log-probability)
//   template                             -> {"template_hex": the model's chat template}
//   classes                              -> llama.cpp's codepoint classes as runs
//                                           [start, "L"|"N"|"W"|"O"] over 0..0x10FFFF
//
// Build: see scripts/make-goldens. Uses 2 threads and a fixed context so runs
// are repeatable on this machine.

#include "llama.h"
#include "unicode.h"   // from llama.cpp's src/: the codepoint flags its pre-tokenizer uses

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr int kTopK = 5;
constexpr int kContext = 2048;

std::string from_hex(const std::string & hex) {
    std::string out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
}

std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text, bool parse_special) {
    int n = -llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), nullptr, 0, false, parse_special);
    if (text.empty()) {
        return {};
    }
    std::vector<llama_token> ids(std::max(n, 0));
    int got = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), ids.data(),
                             static_cast<int32_t>(ids.size()), false, parse_special);
    if (got < 0) {
        std::fprintf(stderr, "llama-goldens: tokenize failed\n");
        std::exit(1);
    }
    ids.resize(got);
    return ids;
}

void print_ids(const std::vector<llama_token> & ids) {
    std::printf("[");
    for (size_t i = 0; i < ids.size(); ++i) {
        std::printf(i ? ",%d" : "%d", ids[i]);
    }
    std::printf("]");
}

// Top-k of log-softmax(logits), ties broken by the lower id.
std::vector<std::pair<llama_token, double>> top_log_probs(const float * logits, int n_vocab) {
    double max_logit = -INFINITY;
    for (int i = 0; i < n_vocab; ++i) {
        max_logit = std::max(max_logit, static_cast<double>(logits[i]));
    }
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i) {
        sum += std::exp(static_cast<double>(logits[i]) - max_logit);
    }
    const double log_z = max_logit + std::log(sum);
    std::vector<int> order(n_vocab);
    for (int i = 0; i < n_vocab; ++i) {
        order[i] = i;
    }
    std::partial_sort(order.begin(), order.begin() + kTopK, order.end(), [&](int a, int b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::vector<std::pair<llama_token, double>> top;
    for (int k = 0; k < kTopK; ++k) {
        top.emplace_back(order[k], static_cast<double>(logits[order[k]]) - log_z);
    }
    return top;
}

void print_top(const std::vector<std::pair<llama_token, double>> & top) {
    std::printf("[");
    for (size_t k = 0; k < top.size(); ++k) {
        std::printf(k ? ",[%d,%.6f]" : "[%d,%.6f]", top[k].first, top[k].second);
    }
    std::printf("]");
}

llama_context * new_context(llama_model * model) {
    llama_context_params params = llama_context_default_params();
    params.n_ctx = kContext;
    params.n_batch = kContext;
    params.n_ubatch = kContext;
    params.n_threads = 2;
    params.n_threads_batch = 2;
    llama_context * ctx = llama_init_from_model(model, params);
    if (!ctx) {
        std::fprintf(stderr, "llama-goldens: cannot create a context\n");
        std::exit(1);
    }
    return ctx;
}

// Decodes `ids` at positions start.. in one batch; logits for all when all_logits.
void decode(llama_context * ctx, const std::vector<llama_token> & ids, int start, bool all_logits) {
    llama_batch batch = llama_batch_init(static_cast<int32_t>(ids.size()), 0, 1);
    for (size_t i = 0; i < ids.size(); ++i) {
        batch.token[i] = ids[i];
        batch.pos[i] = start + static_cast<int>(i);
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = all_logits || i + 1 == ids.size();
    }
    batch.n_tokens = static_cast<int32_t>(ids.size());
    if (llama_decode(ctx, batch) != 0) {
        std::fprintf(stderr, "llama-goldens: llama_decode failed\n");
        std::exit(1);
    }
    llama_batch_free(batch);
}

void greedy(llama_model * model, const llama_vocab * vocab, int n_predict, const std::string & prompt) {
    const std::vector<llama_token> prompt_ids = tokenize(vocab, prompt, true);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    llama_context * ctx = new_context(model);
    decode(ctx, prompt_ids, 0, false);
    int position = static_cast<int>(prompt_ids.size());
    std::printf("{\"prompt_ids\":");
    print_ids(prompt_ids);
    std::printf(",\"steps\":[");
    for (int step = 0; step < n_predict; ++step) {
        const float * logits = llama_get_logits_ith(ctx, -1);
        const auto top = top_log_probs(logits, n_vocab);
        std::printf(step ? "," : "");
        print_top(top);
        const llama_token next = top[0].first;
        if (llama_vocab_is_eog(vocab, next)) {
            break;
        }
        decode(ctx, {next}, position++, false);
    }
    std::printf("]}\n");
    llama_free(ctx);
}

void teacher(llama_model * model, const llama_vocab * vocab, const std::string & text) {
    const std::vector<llama_token> ids = tokenize(vocab, text, true);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    llama_context * ctx = new_context(model);
    decode(ctx, ids, 0, true);
    std::printf("{\"ids\":");
    print_ids(ids);
    std::printf(",\"positions\":[");
    for (size_t i = 0; i < ids.size(); ++i) {
        std::printf(i ? "," : "");
        print_top(top_log_probs(llama_get_logits_ith(ctx, static_cast<int32_t>(i)), n_vocab));
    }
    std::printf("]}\n");
    llama_free(ctx);
}

char codepoint_class(uint32_t cpt) {
    const unicode_cpt_flags flags = unicode_cpt_flags_from_cpt(cpt);
    if (flags.is_whitespace) return 'W';
    if (flags.is_letter) return 'L';
    if (flags.is_number) return 'N';
    return 'O';
}

void classes() {
    std::printf("{\"runs\":[");
    char previous = 0;
    bool first = true;
    for (uint32_t cpt = 0; cpt < 0x110000; ++cpt) {
        const char c = codepoint_class(cpt);
        if (c != previous) {
            std::printf(first ? "[%u,\"%c\"]" : ",[%u,\"%c\"]", cpt, c);
            first = false;
            previous = c;
        }
    }
    std::printf("]}\n");
}

void quiet_log(ggml_log_level, const char *, void *) {}

}  // namespace

int main(int argc, char ** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: llama-goldens MODEL.gguf < requests\n");
        return 64;
    }
    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model_params model_params = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(argv[1], model_params);
    if (!model) {
        std::fprintf(stderr, "llama-goldens: cannot load %s\n", argv[1]);
        return 1;
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);

    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        std::vector<std::string> parts;
        size_t start = 0;
        while (start <= line.size()) {
            size_t end = line.find(' ', start);
            if (end == std::string::npos) end = line.size();
            parts.push_back(line.substr(start, end - start));
            start = end + 1;
        }
        const std::string & verb = parts[0];
        if (verb == "tokenize" && parts.size() == 3) {
            std::printf("{\"ids\":");
            print_ids(tokenize(vocab, from_hex(parts[2]), parts[1] == "1"));
            std::printf("}\n");
        } else if (verb == "greedy" && parts.size() == 3) {
            greedy(model, vocab, std::atoi(parts[1].c_str()), from_hex(parts[2]));
        } else if (verb == "teacher" && parts.size() == 2) {
            teacher(model, vocab, from_hex(parts[1]));
        } else if (verb == "template") {
            const char * tmpl = llama_model_chat_template(model, nullptr);
            std::printf("{\"template_hex\":\"");
            for (const char * p = tmpl ? tmpl : ""; *p; ++p) {
                std::printf("%02x", static_cast<unsigned char>(*p));
            }
            std::printf("\"}\n");
        } else if (verb == "classes") {
            classes();
        } else {
            std::fprintf(stderr, "llama-goldens: bad request: %s\n", line.c_str());
            return 64;
        }
        std::fflush(stdout);
    }
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
