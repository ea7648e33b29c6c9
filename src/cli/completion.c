/*
 * completion.c - kumo completion bash|zsh: a shell completion script made
 * from the command tree itself (commands, their options and aliases, the
 * global options, -o's formats), so it never lags behind the commands.
 * zsh runs the bash function through bashcompinit.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void opt_words(const struct opt *o, bool *first)
{
    for (; o && o->name; o++) {
        for (const char *p = o->name; *p;) {
            size_t len = strcspn(p, "|");
            printf("%s--%.*s", *first ? "" : " ", (int)len, p);
            *first = false;
            p += len;
            if (*p) p++;
        }
        if (o->short_name) printf(" -%c", o->short_name);
    }
}

static const struct opt wait_words[] = {
    {"no-wait", 0, OPT_FLAG, NULL, NULL, NULL},
    {"timeout", 0, OPT_VALUE, NULL, NULL, NULL},
    {0},
};
static const struct opt yes_words[] = {
    {"yes", 'y', OPT_FLAG, NULL, NULL, NULL},
    {0},
};

/* One case of the bash function per node: its subcommands, or its options. */
static void cases(const struct cmd *node, const char *path)
{
    printf("        \"%s\") words=\"", path);
    if (node->sub) {
        for (const struct cmd *const *s = node->sub; *s; s++)
            printf("%s%s", s == node->sub ? "" : " ", (*s)->name);
    } else {
        bool first = true;
        opt_words(node->opts, &first);
        if (node->waits) opt_words(wait_words, &first);
        if (node->confirms) opt_words(yes_words, &first);
        opt_words(global_opts, &first);
    }
    printf("\" ;;\n");
    for (const struct cmd *const *s = node->sub; s && *s; s++) {
        char sub[256];
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? " " : "", (*s)->name);
        cases(*s, sub);
    }
}

static int completion(struct cli *c, struct args *a)
{
    const char *shell = a->npos ? a->pos[0] : NULL;
    if (!shell || (strcmp(shell, "bash") && strcmp(shell, "zsh")))
        return usage_error(c, "say which shell: kumo completion bash, or kumo completion zsh");
    if (!strcmp(shell, "zsh"))
        printf("# kumo completion for zsh: source <(kumo completion zsh) in ~/.zshrc\n"
               "autoload -U +X bashcompinit && bashcompinit\n");
    else
        printf("# kumo completion for bash: source <(kumo completion bash) in ~/.bashrc\n");
    printf("_kumo() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
           "    local path=\"\" words i\n"
           "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
           "        [[ ${COMP_WORDS[i]} == -* ]] && break\n"
           "        path=\"${path:+$path }${COMP_WORDS[i]}\"\n"
           "    done\n"
           "    case \"$prev\" in\n"
           "        -o|--output) COMPREPLY=($(compgen -W \"table json tsv\" -- \"$cur\")); "
           "return ;;\n"
           "    esac\n"
           "    case \"$path\" in\n");
    cases(&cmd_root, "");
    printf("        *) words=\"\" ;;\n"
           "    esac\n"
           "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
           "}\n"
           "complete -F _kumo kumo\n");
    return KX_OK;
}

const struct cmd cmd_completion = {
    .name = "completion",
    .summary = "Print a shell completion script (bash or zsh)",
    .usage = "bash|zsh",
    .help = "Print a script that completes kumo's commands and options in bash or zsh. Load "
            "it in the shell's start-up file: source <(kumo completion bash) in ~/.bashrc, or "
            "source <(kumo completion zsh) in ~/.zshrc.",
    .run = completion,
    .positionals = 1,
    .examples = "  source <(kumo completion bash)\n"
                "  kumo completion zsh > ~/.kumo-completion.zsh\n",
};
